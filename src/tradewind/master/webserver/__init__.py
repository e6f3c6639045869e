"""The web UI and REST API: a Flask app over the metastore, never importing user DAG code.

``create_app(settings)`` in ``app.py`` builds it; ``tradewind webserver`` serves it with gunicorn.
"""
