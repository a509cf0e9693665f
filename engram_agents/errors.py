"""Errors users can catch: each names the problem and what to do about it."""


class EngramError(Exception):
    """Base class for engram-agents errors."""


class ModelNotFoundError(EngramError, FileNotFoundError):
    """A model path, its weights or the embedded default model file is missing."""


class AdapterError(EngramError, ValueError):
    """A saved Engram adapter or user delta does not fit the model it is loaded into."""


class InvalidInputError(EngramError, ValueError):
    """A caller passed input the library cannot use (empty text, wrong types, ...)."""


class AuthenticationError(EngramError, PermissionError):
    """No API key, or a wrong or revoked one, was presented to an engram-agents server."""


class AccessDeniedError(EngramError, PermissionError):
    """The API key is valid but may not touch that user (another tenant's, or not granted)."""
