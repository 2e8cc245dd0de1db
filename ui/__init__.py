"""Streamlit front end."""
