"""The window's commands: one QAction each, with shortcuts, placed in the menus and toolbar."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QSizePolicy, QToolBar, QWidget

from lookalike.gui.icons import action_icon

log = logging.getLogger(__name__)

Shortcut = QKeySequence.StandardKey | str | None


class WindowActions:
    """The main window's actions; the window connects their ``triggered`` signals.

    Shortcuts: Ctrl+O open, Ctrl+V paste, Ctrl+F find similar to the selection, Alt+Left /
    Alt+Right back and forward through searches, F5 rescan, F1 the shortcut sheet, Ctrl+Q quit
    (platform standard keys where the platform has one).

    Attributes:
        open, paste, add_folder, find_similar, back, forward, rescan, settings, skipped, learn,
            forget, quit, shortcuts, about: QActions.
        toolbar: the main toolbar.
    """

    def __init__(self, window: QMainWindow) -> None:
        self._window = window
        self.open = self._make(
            "Open Photo…", "open", QKeySequence.StandardKey.Open, "Search with a photo file"
        )
        self.paste = self._make(
            "Paste",
            "paste",
            QKeySequence.StandardKey.Paste,
            "Search with a copied photo, or a copied path to one",
        )
        self.add_folder = self._make(
            "Add Folder…", "folder-add", None, "Add a folder of photos to the library"
        )
        self.find_similar = self._make(
            "Find Similar", "find-similar", "Ctrl+F", "Search with the selected photo"
        )
        self.back = self._make(
            "Back", "back", QKeySequence.StandardKey.Back, "The previous search"
        )
        self.forward = self._make(
            "Forward", "forward", QKeySequence.StandardKey.Forward, "The next search"
        )
        self.back.setEnabled(False)
        self.forward.setEnabled(False)
        self.rescan = self._make(
            "Rescan", "rescan", "F5", "Look for new, changed and deleted photos now"
        )
        self.settings = self._make("Settings…", "settings", QKeySequence.StandardKey.Preferences)
        self.skipped = self._make("Unreadable Files…", None, None)
        self.learn = self._make(
            "Learn From This Library…",
            None,
            None,
            "Tune searches to the photos in this library (takes a while; searches keep working)",
        )
        self.forget = self._make(
            "Forget What Was Learned",
            None,
            None,
            "Compare photos as they are again, without what was learned from this library",
        )
        self.quit = self._make("Quit", None, "Ctrl+Q")
        self.about = self._make("About Lookalike", None, None)
        self.shortcuts = self._make(
            "Keyboard Shortcuts", None, QKeySequence.StandardKey.HelpContents
        )
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.settings.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.about.setMenuRole(QAction.MenuRole.AboutRole)
        self._build_menus()
        self.toolbar = self._build_toolbar()

    def _make(self, text: str, icon: str | None, shortcut: Shortcut, tip: str = "") -> QAction:
        action = (
            QAction(action_icon(icon), text, self._window) if icon else QAction(text, self._window)
        )
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or text} ({keys})" if keys else tip or text)
        # No status tip: hovering the toolbar would replace the indexing line in the status bar.
        self._window.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    def _build_menus(self) -> None:
        bar = self._window.menuBar()
        layout = {
            "&File": (
                self.open,
                self.paste,
                None,
                self.add_folder,
                None,
                self.settings,
                None,
                self.quit,
            ),
            "&Library": (
                self.find_similar,
                self.back,
                self.forward,
                None,
                self.rescan,
                self.skipped,
                None,
                self.learn,
                self.forget,
            ),
            "&Help": (self.shortcuts, None, self.about),
        }
        for title, actions in layout.items():
            menu = bar.addMenu(title)
            for action in actions:
                if action is None:
                    menu.addSeparator()
                else:
                    menu.addAction(action)

    def _build_toolbar(self) -> QToolBar:
        toolbar = QToolBar("Main", self._window)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (
            self.back,
            self.forward,
            None,
            self.open,
            self.paste,
            None,
            self.find_similar,
            None,
            self.add_folder,
            self.rescan,
        ):
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(action)
        spacer = QWidget(toolbar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        toolbar.addWidget(spacer)
        toolbar.addAction(self.settings)
        self._window.addToolBar(toolbar)
        return toolbar
