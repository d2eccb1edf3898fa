"""Layout helpers shared by the window's panels (one look: same margins and spacing)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLayout, QVBoxLayout, QWidget


def row(parent: QWidget | None, spacing: int, *items: QWidget | None) -> QHBoxLayout:
    """A horizontal layout without margins holding ``items`` left to right.

    Args:
        parent: the widget the layout is set on, or None for one to nest.
        spacing: pixels between items.
        items: widgets; None puts a stretch there.
    """
    layout = QHBoxLayout() if parent is None else QHBoxLayout(parent)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(spacing)
    for item in items:
        if item is None:
            layout.addStretch(1)
        else:
            layout.addWidget(item)
    return layout


def panel(owner: QWidget, header: QLayout | QWidget, body: QWidget) -> QVBoxLayout:
    """A panel's layout on ``owner``: 8 px margins, 6 px spacing, ``header`` above ``body``,
    which takes the spare height; callers add more below."""
    layout = QVBoxLayout(owner)
    layout.setContentsMargins(8, 8, 8, 8)
    layout.setSpacing(6)
    if isinstance(header, QLayout):
        layout.addLayout(header)
    else:
        layout.addWidget(header)
    layout.addWidget(body, 1)
    return layout
