"""The data stage: real, human-drawn line art from the package registries, prepared into pairs.

Every source (``openmoji``, ``streamline``, ``facesjs``, ``openclipart``) is fetched from a
package registry (npm or Debian), rendered from its vectors at the requested size and written
as a folder of pairs that training and ``colorizer eval --set real`` read::

    ROOT/SOURCE/manifest.json     source, version, license, attribution, counts, splits, per pair
    ROOT/SOURCE/lines/NAME.png    8-bit gray line art, 0 ink on 255 paper
    ROOT/SOURCE/color/NAME.png    8-bit RGBA colors (alpha 0 = the source's transparent paper)

The split is by *drawing* (:mod:`.split`): files that share line art (skin-tone variants) are one
drawing, and a drawing is on one side only. Nothing here is imported by the serving side.
"""

import logging

logger = logging.getLogger("colorizer.datasets")
