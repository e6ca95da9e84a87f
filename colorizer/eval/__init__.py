"""Quality evaluation: the paper's four questions as reproducible numbers (``colorizer eval``)."""

import logging

logger = logging.getLogger(__name__)
