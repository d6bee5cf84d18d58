"""Outgoing mail of ArticleSend, one module per step: compose (article to MIME), crypto (PGP and
S/MIME, used by compose only), outbox (stored with the article, delivered over SMTP by a worker).
"""
