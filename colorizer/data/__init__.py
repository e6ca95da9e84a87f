"""Training data: synthetic illustrations, random color hints, datasets over image folders."""

import logging

logger = logging.getLogger(__name__)
