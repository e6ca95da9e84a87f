"""Helpers of the reliability and security tests.

The throwaway PKI (made once per session in conftest.py with the openssl CLI) lives in
tests/service/gateway_helpers.py, shared with the client tests; it is re-exported here.
"""

from __future__ import annotations

from gateway_helpers import Pki, make_pki

__all__ = ["PIXEL_LIMIT", "Pki", "make_pki"]

#: The pixel limit of the shared gateway process (the fuzz bombs are made at and over it).
PIXEL_LIMIT = 1024 * 1024
