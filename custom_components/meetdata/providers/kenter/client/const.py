"""Constants of Kenter's Near-RealTime Data webservice (from Kenter's manual)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from ....api.models import MeterKind, Quantity

#: Production endpoint of the SOAP API (manual, chapter 2).
DEFAULT_BASE_URL: Final = "https://api-realtime.kenter.nu/realtime/1.0/"
#: Namespace of the operations and of the FaultException detail.
NAMESPACE: Final = "https://kenter.realm2m.nl/api/kenter/1.0/"
#: The WSDL shipped with this package (never loaded from the network).
WSDL_PATH: Final = Path(__file__).with_name("kenter.wsdl")

OP_METADATA: Final = "getMeterMetaData"
OP_LATEST: Final = "getLatestMeasurement"
OP_METER_DATA: Final = "getMeterData"

#: Local time zone of the webservice (timestamps carry an offset; bare local
#: times, should they ever appear, are read in this zone).
TIME_ZONE: Final = ZoneInfo("Europe/Amsterdam")

#: Manual 2.4: a getMeterData period may not exceed 31 days.
MAX_WINDOW: Final = timedelta(days=31)

#: Bodies larger than this are parsed in an executor.
INLINE_PARSE_MAX_BYTES: Final = 64 * 1024

COUNTER_INTERVAL: Final = "interval"
COUNTER_REGISTER: Final = "register"

# Counter codes (manual 2.3): LVR/TLV active energy in kWh from/to the grid,
# LVB/TLB reactive energy in kVArh from/to the grid, VN gas volume in m3.
LVR: Final = "LVR"
TLV: Final = "TLV"
LVB: Final = "LVB"
TLB: Final = "TLB"
VN: Final = "VN"

COUNTER_QUANTITIES: Final[dict[str, Quantity]] = {
    LVR: Quantity.ENERGY_IMPORT,
    TLV: Quantity.ENERGY_EXPORT,
    LVB: Quantity.REACTIVE_ENERGY_IMPORT,
    TLB: Quantity.REACTIVE_ENERGY_EXPORT,
    VN: Quantity.GAS_VOLUME,
}

#: What the latest value of an interval counter is: the amount of one interval.
INTERVAL_QUANTITIES: Final[dict[str, Quantity]] = {
    LVR: Quantity.ENERGY_IMPORT_INTERVAL,
    TLV: Quantity.ENERGY_EXPORT_INTERVAL,
    LVB: Quantity.REACTIVE_ENERGY_IMPORT_INTERVAL,
    TLB: Quantity.REACTIVE_ENERGY_EXPORT_INTERVAL,
    VN: Quantity.GAS_VOLUME_INTERVAL,
}

#: Length of one interval per counter: quarter-hours for electricity, hours for gas.
COUNTER_INTERVALS: Final[dict[str, timedelta]] = {
    LVR: timedelta(minutes=15),
    TLV: timedelta(minutes=15),
    LVB: timedelta(minutes=15),
    TLB: timedelta(minutes=15),
    VN: timedelta(hours=1),
}

#: Counters a meter of each kind reports (the metadata does not list them).
KIND_COUNTERS: Final[dict[MeterKind, tuple[str, ...]]] = {
    MeterKind.ELECTRICITY: (LVR, TLV, LVB, TLB),
    MeterKind.GAS: (VN,),
}

#: Meter types in getMeterMetaData's ``type`` field.
METER_TYPES: Final[dict[str, MeterKind]] = {
    "elektriciteitsmeter": MeterKind.ELECTRICITY,
    "gasmeter": MeterKind.GAS,
}

#: A measureValue's timestamp marks the START of its interval: the manual's
#: getMeterData example answers a request starting at 21:00 with a first value
#: stamped 21:00, i.e. the first interval inside the requested period.
TIMESTAMP_MARKS_START: Final = True
