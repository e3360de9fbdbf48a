"""Exports of a data directory in the field's own formats: EMG-BIDS and flat CSV tables.

Importing this package imports neither mne nor mne-bids (they load when an export runs).
"""
