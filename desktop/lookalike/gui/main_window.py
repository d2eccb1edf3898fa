"""The Lookalike window: library sidebar, Search and Albums tabs, indexing status."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from lookalike import paths
from lookalike.decode.image import IMAGE_SUFFIXES
from lookalike.gui.actions import WindowActions
from lookalike.gui.album_view import AlbumView
from lookalike.gui.drops import DropContent, read_mime
from lookalike.gui.duplicates_page import DuplicatesPage
from lookalike.gui.icons import action_icon, app_icon
from lookalike.gui.idle_memory import IdleMemory
from lookalike.gui.index_status import IndexStatus
from lookalike.gui.learning import LearningCommands
from lookalike.gui.library_sidebar import LibrarySidebar
from lookalike.gui.library_sync import LibrarySync
from lookalike.gui.messages import show_about, show_failure
from lookalike.gui.navigation import Navigation
from lookalike.gui.photo_viewer import PhotoViewer
from lookalike.gui.search_page import SearchPage
from lookalike.gui.settings_dialog import confirm_switch, edit_settings
from lookalike.gui.shortcuts_dialog import ShortcutsDialog
from lookalike.gui.skipped_dialog import SkippedDialog
from lookalike.gui.thumbnails import ThumbnailCache
from lookalike.gui.workers import Failure, SyncRunner, TaskRunner, WatchBridge
from lookalike.library import Library
from lookalike.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 800)
CLOSE_WAIT_MS = 10_000
"""How long closing waits for the indexing thread to stop before it waits silently on."""


MODEL_UPDATED = (
    "Lookalike's model was updated: your photos are being embedded again; until then, search "
    "with a photo of the library"
)
"""Shown when the library was opened with photos embedded by an older model."""


class MainWindow(QMainWindow):
    """The main window. Owns the background runners; the library is passed in.

    Signals:
        statusRefreshed(object): a fresh ``Status`` of the library is shown.
        syncEnded(object): indexing stopped: its last ``Progress``, or None if it failed.
    """

    statusRefreshed = Signal(object)
    syncEnded = Signal(object)

    def __init__(
        self,
        library: Library,
        settings: Settings,
        settings_path: Path | None,
        state: QSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.settings = settings
        self.settings_path = settings_path
        self._state = state
        self._closed = False
        self.setWindowTitle("Lookalike")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.thumbnails = ThumbnailCache(paths.cache_dir() / "thumbs", parent=self)
        self.runner = TaskRunner(1, self)  # every library call of the GUI, in order
        self.decoder = TaskRunner(2, self)  # decoding for display, match details
        self.sync = SyncRunner(library, self)
        self.watch_bridge = WatchBridge(self)
        self.idle_memory = IdleMemory(library, self.runner, self.sync, self.watch_bridge, self)
        self._build_widgets()
        self.commands = WindowActions(self)
        self.learning = LearningCommands(self, library, self.commands.learn, self.commands.forget)
        self.search.set_options(settings.dba, settings.rerank, settings.rotate, search_again=False)
        self._connect()
        self._restore_state()

    # -- construction ---------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.sidebar = LibrarySidebar(self)
        self.search = SearchPage(self.library, self.runner, self.decoder, self.thumbnails, self)
        self.albums = AlbumView(self.library, self.runner, self.thumbnails, self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.search, action_icon("find-similar"), "Search")
        self.tabs.addTab(self.albums, action_icon("folder"), "Albums")
        self.duplicates = DuplicatesPage(self.library, self.runner, self.thumbnails, self)
        self.tabs.addTab(self.duplicates, action_icon("remove"), "Duplicates")
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([230, 1050])
        self.viewer = PhotoViewer(self.decoder, self)
        self.pages = QStackedWidget(self)  # the library and searches, or one photo large
        self.pages.addWidget(self.splitter)
        self.pages.addWidget(self.viewer)
        self.setCentralWidget(self.pages)
        self.index_status = IndexStatus(self)
        self.statusBar().addPermanentWidget(self.index_status, 1)
        self.statusBar().messageChanged.connect(self.index_status.show_notice)
        self.statusBar().setSizeGripEnabled(True)

    def _connect(self) -> None:
        a = self.commands
        for action, slot in (
            (a.open, self.open_photo),
            (a.paste, self.paste),
            (a.add_folder, self.choose_folder),
            (a.find_similar, self.find_similar_to_selected),
            (a.rescan, self.rescan),
            (a.settings, self.show_settings),
            (a.skipped, self.show_skipped),
            (a.quit, self.close),
            (a.about, lambda: show_about(self)),
            (a.shortcuts, self.show_shortcuts),
        ):
            action.triggered.connect(slot)
        self.sidebar.addRequested.connect(self.choose_folder)
        self.sidebar.removeRequested.connect(self.remove_folder)
        self.sidebar.rescanRequested.connect(self.rescan)
        self.sidebar.folderActivated.connect(self.browse_folder)
        self.sidebar.selectedChanged.connect(self.search.scope_bar.set_folder)
        self.search.scope_bar.folderCleared.connect(self.sidebar.clear_selection)
        self.search.query_view.openRequested.connect(self.open_photo)
        self.search.query_view.pasteRequested.connect(self.paste)
        self.search.failed.connect(self._show_failure)
        self.search.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.albums.findSimilarRequested.connect(self.search_photo)
        self.albums.failed.connect(self._show_failure)
        self.library_sync = LibrarySync(self)
        self.library_sync.statusRefreshed.connect(self.statusRefreshed)
        self.library_sync.syncEnded.connect(self.syncEnded)
        self.sync.failed.connect(self._show_failure)
        self.learning.finished.connect(self.request_status)
        self.learning.changed.connect(self.search.search_again)
        self.navigation = Navigation(self)

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help → Keyboard Shortcuts (non-modal); returns the dialog."""
        dialog = ShortcutsDialog(self.actions(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def follow_library(self) -> None:
        """The library changed: drop the results whose photos left it (off the GUI thread)."""
        if not len(self.search.history):
            return
        self.runner.submit(self.library.catalogued, self.search.follow_library, self._show_failure)

    # -- searching ------------------------------------------------------------------------
    def search_file(self, path: Path) -> None:
        """Search with a photo file."""
        self.tabs.setCurrentWidget(self.search)
        self.search.search_file(Path(path))

    def search_photo(self, photo_id: int, path: Path) -> None:
        """Search with a library photo."""
        self.tabs.setCurrentWidget(self.search)
        self.search.search_photo(photo_id, Path(path))

    def handle_content(self, content: DropContent) -> bool:
        """Act on dropped or pasted content: add folders, search with a file or image."""
        for folder in content.folders:
            self.add_folder(folder)
        if content.files:
            self.search_file(content.files[0])
        elif content.image is not None:
            self.tabs.setCurrentWidget(self.search)
            self.search.search_image(content.image)
        return not content.empty()

    def open_photo(self) -> None:
        """Ctrl+O: choose a photo file to search with."""
        patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(
            self, "Search with a photo", "", f"Photos ({patterns});;All files (*)"
        )
        if path:
            self.search_file(Path(path))

    def paste(self) -> None:
        """Ctrl+V: search with the image or file path on the clipboard."""
        if not self.handle_content(read_mime(QGuiApplication.clipboard().mimeData())):
            self.statusBar().showMessage("The clipboard holds no photo and no path to one", 5000)

    def find_similar_to_selected(self) -> None:
        """Ctrl+F: search with the selected photo (results or album)."""
        view = self.albums.grid if self.tabs.currentWidget() is self.albums else self.search.results
        if not view.find_similar_to_current():
            self.statusBar().showMessage("Select an indexed photo first", 4000)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage() or mime.hasText():
            event.acceptProposedAction()
        if mime.hasUrls():  # embed the photo while it is dragged: the drop then only searches
            files = read_mime(mime).files
            if files:
                self.search.prepare_file(files[0])

    def dropEvent(self, event: QDropEvent) -> None:
        if self.handle_content(read_mime(event.mimeData())):
            event.acceptProposedAction()

    # -- library folders ------------------------------------------------------------------
    def choose_folder(self) -> None:
        """Ask for a folder and add it."""
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_folder(Path(folder))

    def add_folder(self, folder: Path) -> None:
        """Add a library folder, then index it."""

        def added(_result: object) -> None:
            self.statusBar().showMessage(f"Added {folder}; indexing its photos…", 5000)
            self.albums.mark_stale()
            self.request_status()
            self.sync.start()

        self.runner.submit(lambda: self.library.add_root(folder), added, self._show_failure)

    def remove_folder(self, folder: Path, confirm: bool = True) -> None:
        """Forget a library folder (the files stay on disk)."""
        if (
            confirm
            and QMessageBox.question(
                self,
                "Remove folder",
                f"Remove {folder} from the library?\n\nThe photos stay on disk; they just "
                "won't be found by searches any more.",
            )
            != QMessageBox.StandardButton.Yes
        ):
            return

        def removed(_result: object) -> None:
            self.statusBar().showMessage(f"Removed {folder} from the library", 5000)
            self.albums.mark_stale()
            self.follow_library()
            self.request_status()

        self.runner.submit(lambda: self.library.remove_root(folder), removed, self._show_failure)

    def browse_folder(self, folder: Path) -> None:
        """Show a folder in the Albums tab."""
        self.tabs.setCurrentWidget(self.albums)
        self.albums.browse(Path(folder))

    # -- indexing (see library_sync.py) -------------------------------------------------
    def rescan(self) -> None:
        """F5: look for new, changed and deleted photos now."""
        self.library_sync.rescan()

    def request_status(self) -> None:
        """Refresh counts soon (coalesces bursts of requests)."""
        self.library_sync.request_status()

    def show_skipped(self) -> SkippedDialog:
        """Open the list of unreadable files (non-modal); returns the dialog."""
        return self.library_sync.show_skipped()

    # -- settings, messages ---------------------------------------------------------------
    def show_settings(self) -> None:
        """Edit the saved settings; save on OK and apply the search options at once."""
        saved = edit_settings(self.settings_path, self.settings, self, self._confirm_quality)
        if saved is not None:
            edited, restart = saved
            note = "; restart Lookalike to apply them" if restart else ""
            self.statusBar().showMessage(f"Settings saved{note}", 8000)
            self.apply_search_settings(edited)
            self.apply_threads(edited.threads)
            if edited.preset != self.settings.preset:
                self.settings.preset = edited.preset
                self.runner.submit(lambda: self.library.switch_preset(edited.preset),
                                   lambda _: self.sync.start(), self._show_failure)

    def _confirm_quality(self, edited: Settings) -> bool:
        """A Quality other than the library's re-embeds it (in the background): ask first."""
        if edited.preset == self.library.preset or edited.preset == self.settings.preset:
            return True
        info = self.library_sync.status_info
        photos = info.indexed if info is not None else 0
        return confirm_switch(self, photos, edited.preset)

    def apply_search_settings(self, edited: Settings) -> None:
        """Use the search options of ``edited`` from the next search on (no restart), and
        repeat the current search if they changed."""
        options = (edited.dba, edited.rerank, edited.rotate)
        changed = options != (self.settings.dba, self.settings.rerank, self.settings.rotate)
        self.settings.dba, self.settings.rerank, self.settings.rotate = options
        self.search.set_options(*options, search_again=changed)

    def apply_threads(self, threads: int) -> None:
        """Analyse photos with ``threads`` threads from the library's next batch on."""
        if threads != self.settings.threads:
            self.settings.threads = threads
            self.runner.submit(lambda: self.library.set_threads(threads), lambda _c: None,
                               self._show_failure)

    def _show_failure(self, failure: Failure) -> None:
        show_failure(self, failure)

    # -- lifetime -------------------------------------------------------------------------
    def start(self) -> None:
        """Call once the window is shown: load counts, then index whatever changed."""
        if self._closed:
            return
        if self.library.model_changed:
            self.statusBar().showMessage(MODEL_UPDATED, 30_000)
        self.request_status()
        self.warm_up()
        self.runner.submit(
            self.library.roots,
            lambda roots: self.sync.start() if roots else None,
            self._show_failure,
        )

    def warm_up(self) -> None:
        """Run the model once in the background, so that the first photo dropped is not slowed
        by the model's cold start (a failure here shows again at the first search)."""
        self.runner.submit(self.library.warm_up, lambda _none: None, lambda _failure: None)

    def _restore_state(self) -> None:
        geometry = self._state.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)
        for key, splitter in (
            ("window/splitter", self.splitter),
            ("search/splitter", self.search.splitter),
            ("search/right", self.search.right),
            ("albums/splitter", self.albums.splitter),
        ):
            value = self._state.value(key)
            if value is not None:
                splitter.restoreState(value)
        lines = self._state.value("match/lines", False, bool)
        self.search.match_view.set_lines_visible(bool(lines))

    def _save_state(self) -> None:
        self._state.setValue("window/geometry", self.saveGeometry())
        self._state.setValue("window/splitter", self.splitter.saveState())
        self._state.setValue("search/splitter", self.search.splitter.saveState())
        self._state.setValue("search/right", self.search.right.saveState())
        self._state.setValue("albums/splitter", self.albums.splitter.saveState())
        self._state.setValue("match/lines", self.search.match_view.lines_visible())
        self._state.sync()

    def shutdown(self) -> None:
        """Stop indexing and watching, wait for background work, close the library.

        Safe to call more than once. Indexing resumes where it stopped on the next start.
        """
        if self._closed:
            return
        self._closed = True
        self.library_sync.close()
        self.navigation.shutdown()
        self._save_state()
        if not self.sync.stop(CLOSE_WAIT_MS):
            log.warning("indexing is taking long to stop; waiting for it to finish its photo")
            self.sync.stop(None)
        self.library_sync.stop_watching()
        if not self.learning.shutdown(CLOSE_WAIT_MS):
            log.warning("still learning from the library; waiting for it to finish")
            self.learning.shutdown(-1)
        if not self.duplicates.shutdown(CLOSE_WAIT_MS):
            log.warning("still looking for duplicates; waiting for its chunk of photos")
            self.duplicates.shutdown(-1)
        self.runner.shutdown(CLOSE_WAIT_MS)
        self.decoder.shutdown(CLOSE_WAIT_MS)
        self.thumbnails.shutdown()
        self.library.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        event.accept()
