; Inno Setup script for Lookalike: installs the PyInstaller folder dist\Lookalike.
;
;   pyinstaller --noconfirm --clean pyinstaller.spec
;   iscc /DAppVersion=0.1.0 scripts\windows\lookalike.iss
;   → dist\Lookalike-0.1.0-windows-x64-setup.exe
;
; Installs for the current user by default (no administrator rights; %LOCALAPPDATA%\Programs),
; or for all users (Program Files) when run as administrator or chosen in the dialog.
; The uninstaller offers to delete the library, cache and settings in %LOCALAPPDATA%\Lookalike.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define AppName "Lookalike"
#define AppExe "Lookalike.exe"
#define Root AddBackslash(SourcePath) + "..\.."

[Setup]
; Never change AppId: Windows recognises updates and the uninstaller by it.
AppId={{FC0652B7-0A7B-4FE9-9C4D-7D23D0534C47}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=The Lookalike developers
AppPublisherURL=https://github.com/lookalike/lookalike
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#Root}\dist
OutputBaseFilename={#AppName}-{#AppVersion}-windows-x64-setup
SetupIconFile={#Root}\resources\icons\lookalike.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#Root}\dist\Lookalike\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An update replaces the whole bundle: no library of an older version may stay behind.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Find similar photos in your library"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if CurUninstallStep = usPostUninstall then
  begin
    DataDir := ExpandConstant('{localappdata}\{#AppName}');
    if DirExists(DataDir) and not UninstallSilent() then
      if MsgBox('Also delete your Lookalike library, thumbnails and settings?' + #13#10 + #13#10
                + DataDir + #13#10 + #13#10
                + 'Your photos are not touched either way.',
                mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
        DelTree(DataDir, True, True, True);
  end;
end;
