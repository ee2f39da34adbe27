"""Pictures for the photonics commands' ``--plot FILE.png`` (matplotlib, no display needed).

matplotlib is imported when a picture is drawn, never when a command merely starts.
"""

from __future__ import annotations

from specialist.errors import InputError

DPI = 120


def figure(width: float = 7.5, height: float = 4.5):
    """A new figure and axes on the non-interactive backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=DPI)


def save(fig, path: str) -> None:
    """Write the figure as PNG and close it; a path that cannot be written is an InputError."""
    import matplotlib.pyplot as plt

    if not str(path).lower().endswith(".png"):
        plt.close(fig)
        raise InputError("--plot", "", f"is '{path}'; allowed: a file name ending in .png")
    try:
        fig.tight_layout()
        fig.savefig(path, format="png")
    except OSError as err:
        raise InputError("--plot", "", f"is '{path}', which cannot be written ({err.strerror}); allowed: a "
                         "file in an existing, writable folder") from None
    finally:
        plt.close(fig)
