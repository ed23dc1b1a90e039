"""Where the queries of ``hsnet-deploy run`` come from: one loop over decoded frames.

    source = open_query_source("q.jpg")        # one image file
    source = open_query_source("queries/")     # every image of a folder, sorted by name
    for query in source:                       # Query(name, path, image (h, w, 3) uint8)
        ...

Each file is decoded exactly once, when the loop reaches it (a corrupt file raises the
runtime's one-line UserError naming it). A source knows its length and its output names
(``stems``) before anything is decoded, so outputs can be planned and checked first. A
video file, camera or network stream is a :class:`~.video_source.VideoSource`: the same
loop, but of unknown length, its frames named ``frame_000000`` ... by source position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..errors import UserError
from .images import IMAGE_SUFFIXES, Query, load_image


class QuerySource:
    """An ordered, sized collection of queries, decoded lazily."""

    is_folder = False
    is_stream = False

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    @property
    def stems(self) -> list[str]:
        return [p.stem for p in self.files]

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[Query]:
        for path in self.files:
            yield Query(path.stem, path, load_image(path))


class ImageFolderSource(QuerySource):
    is_folder = True

    def __init__(self, folder: Path) -> None:
        files = sorted(
            p for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise UserError(f"query folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        seen: dict[str, Path] = {}
        for p in files:
            if p.stem in seen:
                raise UserError(f"query images {seen[p.stem].name} and {p.name} would both be written as {p.stem}.png")
            seen[p.stem] = p
        super().__init__(files)
        self.folder = folder


def open_query_source(path: str | Path):
    """A query image file, a folder of them, or a video, camera or stream
    (:mod:`.video_source`); UserError if it does not exist or cannot be opened."""
    from .video_source import VideoSource, parse_stream_spec

    spec = parse_stream_spec(str(path))
    if spec is not None:
        return VideoSource(spec)
    path = Path(path)
    if not path.exists():
        raise UserError(f"query not found: {path}")
    if path.is_dir():
        return ImageFolderSource(path)
    return QuerySource([path])
