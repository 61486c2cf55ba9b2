"""Runbooks: the executor (``executor``), retries and deadlines (``retry``) and the action registry
(``actions``; backends register their own actions there)."""
