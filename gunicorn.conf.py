"""gunicorn reads this file from the working directory: every web process of the desk, however
started, writes an access log without survey or password-reset tokens."""

logger_class = "config.gunicorn.MaskingLogger"
