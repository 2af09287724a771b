"""A persona's avatar file: found beside its YAML, an image Discord takes, not too large."""

from __future__ import annotations

from pathlib import Path

from situations.errors import PersonaError
from situations.models import AgentProfile

__all__ = ["AVATAR_MAX_BYTES", "avatar_problem", "image_kind"]

AVATAR_MAX_BYTES = 8 * 1024 * 1024  # Discord refuses larger avatar uploads
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def image_kind(head: bytes) -> str | None:
    """The image type the first bytes of a file show (png, jpeg, gif, webp), if any."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in _SIGNATURES if head.startswith(magic)), None)


def avatar_problem(profile: AgentProfile, line: int | None) -> PersonaError | None:
    """What is wrong with the persona's avatar file (None if it has none or it is fine)."""
    path = profile.avatar_file()
    if path is None:
        return None
    reason = _reason(path, profile.source.parent)
    return None if reason is None else PersonaError(profile.source, line, "avatar", reason)


def _reason(path: Path, directory: Path) -> str | None:
    try:
        target = path.resolve()
        if not target.is_relative_to(directory.resolve()):
            return f"{path.name} links to {target}, outside the persona directory; copy it in"
        size = target.stat().st_size
        with target.open("rb") as file:
            head = file.read(16)
    except FileNotFoundError:
        return f"no file {path.name} beside the persona file; put the image next to it"
    except OSError as exc:
        return f"cannot read {path.name}: {exc.strerror or exc}"
    if size > AVATAR_MAX_BYTES:
        return f"{path.name} is {size / 1_048_576:.1f} MB; an avatar may be at most 8 MB"
    if image_kind(head) is None:
        return f"{path.name} is not a PNG, JPEG, WebP or GIF image"
    return None
