"""Preferences: quality preset, inference threads, folders never to index, search options."""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lookalike.gui.icons import action_icon
from lookalike.settings import PRESETS, Settings

log = logging.getLogger(__name__)

PRESET_TEXT = {
    "fast": "Fast: smaller model, no point-by-point check (quickest to index)",
    "balanced": "Balanced: larger model, point-by-point check (recommended)",
    "balanced-fp32": "Balanced, float32: the same at full precision (about 1.4x slower to index)",
    "best": "Best: larger model at two sizes (slower to index; finds smaller objects)",
}

RESTART_NOTE = (
    "Changing the quality re-analyses every photo once, in the background. Threads apply at "
    "once. Excluded folders are skipped from the next start on."
)

SEARCH_OPTIONS = (
    (
        "dba",
        "Refine results with each match's nearest photos",
        "Compares each of the top matches together with the photos most like it, which "
        "brings up more photos of the same place. Costs a few milliseconds per search.",
    ),
    (
        "rerank",
        "Check the top matches point by point",
        "Compares the top matches with the photo point by point and moves the ones that "
        "really show the same thing up (about 0.1 s per search). Needs the Best quality, "
        "which keeps the points of every photo; with the other qualities it does nothing.",
    ),
    (
        "rotate",
        "Also find photos stored sideways",
        "Searches with the photo turned a quarter, half and three quarters too, so photos "
        "saved sideways or upside down are found. Searches take about four times longer.",
    ),
)
"""(Settings field, check box text, tooltip) of the options that apply without a restart."""


class SettingsDialog(QDialog):
    """Edits a copy of the :class:`~lookalike.settings.Settings`; :meth:`settings` returns it.

    The caller saves the result (``Settings.save``) when the dialog is accepted.
    """

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Lookalike Settings")
        self.setMinimumWidth(520)
        self._original = settings
        self.preset = QComboBox(self)
        for name in PRESETS:
            self.preset.addItem(PRESET_TEXT.get(name, name), name)
        self.preset.setCurrentIndex(max(0, self.preset.findData(settings.preset)))
        self.threads = QSpinBox(self)
        self.threads.setRange(0, max(1, os.cpu_count() or 1) * 2)
        self.threads.setSpecialValueText("Automatic")
        self.threads.setValue(settings.threads)
        self.threads.setToolTip("Threads used to analyse photos; Automatic uses every core.")
        self.exclude = QListWidget(self)
        self.exclude.addItems(settings.exclude)
        self.exclude.setMinimumHeight(110)
        add = QToolButton(self)
        add.setIcon(action_icon("add"))
        add.setToolTip("Exclude a folder…")
        add.clicked.connect(self._add_exclude)
        remove = QToolButton(self)
        remove.setIcon(action_icon("remove"))
        remove.setToolTip("Index the selected folder again")
        remove.clicked.connect(self._remove_exclude)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(add)
        buttons_row.addWidget(remove)
        buttons_row.addStretch(1)
        exclude_box = QVBoxLayout()
        exclude_box.addWidget(self.exclude)
        exclude_box.addLayout(buttons_row)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Quality:", self.preset)
        form.addRow("Threads:", self.threads)
        form.addRow("Never index:", exclude_box)
        self.search_options = {
            name: self._check_box(text, tip, bool(getattr(settings, name)))
            for name, text, tip in SEARCH_OPTIONS
        }
        search_group = QGroupBox("Search", self)
        search_box = QVBoxLayout(search_group)
        for box in self.search_options.values():
            search_box.addWidget(box)
        search_note = QLabel("These apply from the next search on.", search_group)
        search_note.setObjectName("hint")
        search_box.addWidget(search_note)
        note = QLabel(RESTART_NOTE)
        note.setObjectName("hint")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
            Qt.Orientation.Horizontal,
            self,
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addSpacing(6)
        layout.addWidget(search_group)
        layout.addWidget(buttons)

    def settings(self) -> Settings:
        """The edited settings (a new object; the one passed in is untouched)."""
        result = copy.deepcopy(self._original)
        result.preset = self.preset.currentData()
        result.threads = self.threads.value()
        result.exclude = [self.exclude.item(i).text() for i in range(self.exclude.count())]
        for name, box in self.search_options.items():
            setattr(result, name, box.isChecked())
        return result

    def needs_restart(self, running: Settings) -> bool:
        """Whether the edits differ from what this session runs with in a way that only a
        restart applies (exclusions; threads apply at once, a new quality is a switch in the
        background)."""
        edited = self.settings()
        return sorted(edited.exclude) != sorted(running.exclude)

    def _check_box(self, text: str, tip: str, checked: bool) -> QCheckBox:
        box = QCheckBox(text, self)
        box.setToolTip(tip)
        box.setChecked(checked)
        return box

    def add_exclude(self, folder: Path) -> None:
        """Add a folder to the exclusion list (ignored if listed already)."""
        text = str(folder)
        listed = {self.exclude.item(i).text() for i in range(self.exclude.count())}
        if text not in listed:
            self.exclude.addItem(text)

    def _add_exclude(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Never index this folder")
        if folder:
            self.add_exclude(Path(folder))

    def _remove_exclude(self) -> None:
        for item in self.exclude.selectedItems():
            self.exclude.takeItem(self.exclude.row(item))


def confirm_switch(parent: QWidget | None, photos: int, preset: str) -> bool:
    """Ask before a new Quality re-embeds the library; True: go ahead."""
    name = PRESET_TEXT.get(preset, preset).split(":")[0]  # "Fast: smaller model, …" -> "Fast"
    answer = QMessageBox.question(
        parent, "Change quality",
        f"Re-embed {photos:,} photos with the {name} model? "
        "Searches keep using the current one until it is done.")
    return answer == QMessageBox.StandardButton.Yes


def edit_settings(
    path: Path | None, running: Settings, parent: QWidget | None = None,
    confirm: Callable[[Settings], bool] | None = None,
) -> tuple[Settings, bool] | None:
    """Edit the saved settings (not this run's command-line overrides) and save them on OK.

    Args:
        path: the settings file; None: the default location.
        running: what this session runs with (to tell whether a restart is needed).
        parent: the dialog's parent window.
        confirm: asked about the edited settings before saving; False keeps the saved preset.

    Returns:
        The saved settings and whether some of the changes need a restart; None when the
        dialog was cancelled or the file could not be written (a warning box said why).
    """
    dialog = SettingsDialog(Settings.load(path), parent)
    if dialog.exec() != SettingsDialog.DialogCode.Accepted:
        return None
    edited = dialog.settings()
    if confirm is not None and not confirm(edited):
        edited.preset = dialog._original.preset
    try:
        edited.save(path)
    except OSError as exc:
        QMessageBox.warning(parent, "Settings not saved", f"Could not save the settings:\n{exc}")
        return None
    return edited, dialog.needs_restart(running)
