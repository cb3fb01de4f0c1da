"""Typed errors whose messages say how to fix the problem.

Every error carries an HTTP status and an OpenAI error `type`, so serve.py can turn any of them
into the same JSON shape without knowing the details. Nothing here recovers from errors.
"""

from __future__ import annotations


class MarqueeError(Exception):
    """Base class. `status` and `type` map the error onto an OpenAI-style HTTP error."""

    status: int = 500
    type: str = "server_error"
    param: str | None = None
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if param is not None:
            self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(MarqueeError):
    """The caller sent something we cannot serve (bad parameter, empty messages, ...)."""

    status = 400
    type = "invalid_request_error"


class RequestTooLarge(InvalidRequest):
    status = 413
    code = "request_too_large"


class ModelNotFound(MarqueeError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class CatalogError(MarqueeError):
    """A catalog file is missing or malformed; the message names the file and line."""

    status = 500
    type = "catalog_error"


class StoreError(MarqueeError):
    """The vector store is missing, empty or built with a different embedder."""

    status = 503
    type = "store_error"


class ModelPackError(MarqueeError):
    """An offline model pack is missing or corrupt; the message says which command builds it."""

    status = 503
    type = "model_pack_error"


class LLMError(MarqueeError):
    """The LLM backend failed or is unreachable."""

    status = 502
    type = "llm_error"


class NotReady(MarqueeError):
    status = 503
    type = "server_error"
    code = "not_ready"


class MediaError(MarqueeError):
    """One media file could not be turned into text; the message names the file.

    Batch runs (`python -m agent.media`) record it for that file and go on. A missing engine or
    model is not a MediaError (it would fail every file): that raises ModelPackError.
    """

    status = 422
    type = "media_error"
    code = "media_error"


class UnreadableMedia(MediaError):
    """The file is missing, not a regular file, or cannot be opened."""

    code = "unreadable"


class CorruptMedia(MediaError):
    """The decoder rejects the file (truncated, not an image/audio/video, unsupported codec)."""

    code = "corrupt"


class EmptyMedia(MediaError):
    """The file decodes but holds nothing to describe (zero length, no audio stream, no frames)."""

    code = "empty"


class UnsupportedMedia(CorruptMedia):
    """The container opens but its stream's codec has no decoder here (or no codec is named)."""

    code = "unsupported_codec"


class TooLargeMedia(MediaError):
    """The header declares more pixels than MAX_MEGAPIXELS (agent/media/base.py): refused before
    decoding, so a 20,000 x 20,000 image never allocates 1.2 GB."""

    code = "too_large"


class NotFound(MarqueeError):
    """The request names something that does not exist (a catalog item, a user); the message says what."""

    status = 404
    type = "not_found_error"
    code = "not_found"


class PosterNotFound(NotFound):
    """No catalog item with this id, or no poster image for it (the page shows a text placeholder)."""

    type = "invalid_request_error"
    code = "poster_not_found"


class Conflict(MarqueeError):
    """The request contradicts what is stored, e.g. an event id reused with a different payload."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"
