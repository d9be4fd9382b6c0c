"""The service process: console facade, drive-link client, viewers, model preparation."""
