"""Triggers: small asyncio waits a deferred task hands to a triggerer (Airflow's ``airflow.triggers``)."""
