"""What every channel this project opens to a set of replicas asks of gRPC.

The client's channel to the gateways and the gateway's channel to Triton both dial a target that
may resolve to several servers (``dns:///`` a headless Service, ``ipv4:h1:p1,h2:p2``). gRPC's
default policy, pick_first, sends every call of a channel to one of them; round robin sends each
call to the next ready one. gRPC does it (its service config), no balancer of ours.
"""

from __future__ import annotations

import json

#: Service config of such a channel: round robin over every resolved address.
ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
