"""Phone numbers of the simulation: validated number blocks and the seeded plan that gives
each global number index its block and subscriber number."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numba import njit

#: Share of numbers per region (percent of 100 slots).
REGION_SLOTS: dict[str, int] = {"US": 50, "CA": 8, "GB": 10, "FR": 8, "DE": 8, "AU": 8, "CN": 8}
_US_AREA_CODES: tuple[str, ...] = (
    "305", "407", "813", "904", "850",  # FL (850-200 is Central time, 850-201 Eastern)
    "214", "512", "713", "210", "915",  # TX (915 El Paso is Mountain time)
    "213", "415", "619", "916", "310",  # CA
    "212", "718", "518", "716",  # NY
    "312", "404", "617", "206", "602", "303", "504", "410", "405", "502", "205", "601",
    "801", "203", "701", "808", "907", "614", "215", "704",
)  # fmt: skip
_US_EXCHANGES = ("200", "201", "234", "456")
_CA_AREA_CODES = ("416", "647", "514", "438", "604", "403", "613", "902", "306", "204")
_CA_FRENCH = ("514", "438")
_CA_EXCHANGES = ("234", "456", "789")
#: (E.164 prefix, subscriber digits, language) of the other regions.
_OTHER_BLOCKS: dict[str, tuple[tuple[str, int, str], ...]] = {
    "GB": (("+44207", 7, "en"), ("+44208", 7, "en"), ("+44161", 7, "en"), ("+441214", 6, "en"),
           ("+447400", 6, "en"), ("+447500", 6, "en")),
    "FR": (("+3361", 7, "fr"), ("+3362", 7, "fr"), ("+3314", 7, "fr"), ("+3345", 7, "fr"),
           ("+3347", 7, "fr")),
    "DE": (("+49151", 8, "de"), ("+49176", 8, "de"), ("+4930", 8, "de"), ("+4989", 8, "de")),
    "AU": (("+6129", 7, "en-AU"), ("+6139", 7, "en-AU"), ("+61892", 6, "en-AU"),
           ("+6141", 7, "en-AU"), ("+6140", 7, "en-AU")),
    "CN": (("+86138", 8, "zh"), ("+86139", 8, "zh"), ("+86106", 7, "zh"), ("+86216", 7, "zh")),
}  # fmt: skip
US_SPANISH_SHARE = 0.15
_SUBSCRIBER_MULTIPLIER = 1_000_003  # odd, not a multiple of 5: a bijection mod 10^k


@dataclass(frozen=True)
class NumberBlock:
    """A range of numbers sharing a prefix, hence a region, subdivision and time zones.

    Zones come from :func:`features.phone.normalize` of the prefix (one call per block,
    not per number); ``zone`` — the first candidate zone — is the simulator's local clock.
    """

    region: str
    prefix: str
    digits: int
    language: str
    subdivision: str | None
    zones: tuple[str, ...]

    @property
    def zone(self) -> str:
        return self.zones[0]


@functools.cache
def number_blocks() -> tuple[NumberBlock, ...]:
    """Every block numbers are drawn from, validated with real libphonenumber data."""
    from features.phone import normalize

    specs: list[tuple[str, str, int, str]] = []
    for npa in _US_AREA_CODES:
        specs += [("US", f"+1{npa}{nxx}", 4, "en") for nxx in _US_EXCHANGES]
    for npa in _CA_AREA_CODES:
        lang = "fr" if npa in _CA_FRENCH else "en"
        specs += [("CA", f"+1{npa}{nxx}", 4, lang) for nxx in _CA_EXCHANGES]
    for region, blocks in _OTHER_BLOCKS.items():
        specs += [(region, prefix, digits, lang) for prefix, digits, lang in blocks]
    out = []
    rng = np.random.default_rng(0x424C4B)
    for region, prefix, digits, lang in specs:
        subscribers = rng.integers(0, 10**digits, 10).tolist() + [0, 10**digits - 1]
        samples = [normalize(f"{prefix}{s:0{digits}d}") for s in subscribers]
        good = all(r.valid and r.region == region and r.time_zones for r in samples)
        same_zones = len({r.time_zones for r in samples}) == 1
        if not (good and same_zones):
            raise RuntimeError(f"simulator number block {prefix} is not a valid {region} range")
        r = samples[0]
        out.append(NumberBlock(region, prefix, digits, lang, r.subdivision, r.time_zones))
    return tuple(out)


def _region_of_block() -> dict[str, list[int]]:
    by_region: dict[str, list[int]] = {r: [] for r in REGION_SLOTS}
    for i, block in enumerate(number_blocks()):
        by_region[block.region].append(i)
    return by_region


@dataclass(frozen=True)
class NumberPlan:
    """Which block and subscriber number each global number index gets (seeded, stable)."""

    slot_region: np.ndarray  # slot (0..99) → region index
    slot_rank: np.ndarray  # slot → rank among the slots of its region
    region_blocks: list[np.ndarray]  # region index → block indices
    subscriber_offset: int

    @classmethod
    def for_seed(cls, seed: int) -> NumberPlan:
        rng = np.random.default_rng([seed, 0x4E554D])
        regions = list(REGION_SLOTS)
        slots = np.repeat(np.arange(len(regions)), [REGION_SLOTS[r] for r in regions])
        rng.shuffle(slots)
        rank = np.zeros(len(slots), dtype=np.int64)
        seen = np.zeros(len(regions), dtype=np.int64)
        for i, r in enumerate(slots):
            rank[i] = seen[r]
            seen[r] += 1
        by_region = _region_of_block()
        blocks = [np.array(by_region[r], dtype=np.int64) for r in regions]
        return cls(slots, rank, blocks, int(rng.integers(0, 10**6)))

    def check_capacity(self, numbers: int) -> None:
        """Refuse a size that would repeat a number (each block holds 10^digits numbers)."""
        cycles = -(-numbers // len(self.slot_region))
        all_blocks = number_blocks()
        for r, name in enumerate(REGION_SLOTS):
            per_region = cycles * int(np.sum(self.slot_region == r))
            needed = -(-per_region // len(self.region_blocks[r]))
            smallest = min(10 ** all_blocks[b].digits for b in self.region_blocks[r])
            if needed > smallest:
                raise ValueError(f"--numbers {numbers:,} exceeds the simulator's {name} ranges")

    def assign(self, first: int, stop: int) -> tuple[np.ndarray, pa.Array]:
        """Block index and E.164 string of global numbers ``first..stop-1``."""
        gidx = np.arange(first, stop, dtype=np.int64)
        n_slots = len(self.slot_region)
        slot = gidx % n_slots
        region = self.slot_region[slot]
        per_cycle = np.bincount(self.slot_region, minlength=len(self.region_blocks))
        j = (gidx // n_slots) * per_cycle[region] + self.slot_rank[slot]
        block = np.empty(len(gidx), dtype=np.int64)
        within = np.empty(len(gidx), dtype=np.int64)
        for r, blocks in enumerate(self.region_blocks):
            mask = region == r
            block[mask] = blocks[j[mask] % len(blocks)]
            within[mask] = j[mask] // len(blocks)
        all_blocks = number_blocks()
        digits = np.array([b.digits for b in all_blocks], dtype=np.int64)
        subscriber = (within * _SUBSCRIBER_MULTIPLIER + self.subscriber_offset) % (
            10 ** digits[block]
        )
        width = max(len(b.prefix) for b in all_blocks)
        prefix_bytes = np.zeros((len(all_blocks), width), dtype=np.uint8)
        prefix_len = np.zeros(len(all_blocks), dtype=np.int64)
        for k, b in enumerate(all_blocks):
            raw = np.frombuffer(b.prefix.encode("ascii"), dtype=np.uint8)
            prefix_bytes[k, : len(raw)] = raw
            prefix_len[k] = len(raw)
        lengths = prefix_len[block] + digits[block]
        offsets = np.zeros(len(block) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        data = np.empty(int(offsets[-1]), dtype=np.uint8)
        _fill_numbers(prefix_bytes, prefix_len, digits, block, subscriber, offsets, data)
        strings = pa.Array.from_buffers(
            pa.string(), len(block), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
        return block, strings


@njit(cache=True, nogil=True)
def _fill_numbers(prefix_bytes, prefix_len, digits, block, subscriber, offsets, data):
    """Write ``prefix + zero-padded subscriber`` of every number into one byte buffer."""
    for i in range(block.shape[0]):
        b = block[i]
        o = offsets[i]
        for k in range(prefix_len[b]):
            data[o + k] = prefix_bytes[b, k]
        o += prefix_len[b]
        v = subscriber[i]
        for d in range(digits[b] - 1, -1, -1):
            data[o + d] = 48 + v % 10
            v //= 10
