"""gunicorn's access log without the secrets that some paths carry (``config.logs.mask_path``)."""

from __future__ import annotations

from gunicorn.glogging import Logger

from config.logs import mask_path


class MaskingLogger(Logger):
    """The access log line of ``/s/<token>/`` reads ``/s/***/``."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = mask_path(atoms[key])
        return atoms
