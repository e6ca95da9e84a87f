"""Training: configuration, losses, the trainer loop, sample grids and the ``colorizer train`` command."""

import logging

logger = logging.getLogger(__name__)
