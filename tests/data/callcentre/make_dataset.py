"""Write the hand-made call-centre export beside this script (deterministic: same files on
every run). Not the project's simulator: a small outbound team's CRM export, as a new user
would bring it.

    python tests/data/callcentre/make_dataset.py

Files:

* ``events.csv`` — six months of contacts, replies, complaints and opt-outs for ~700 people
  in the US, GB and FR. Numbers in national formats as agents typed them ("(617) 555-0142",
  "02079 460123", "01 99 00 12 34"), a ``region`` column (the customer's country in the
  CRM), local-time offsets, enum values in whatever case the dialler wrote, an ``agent_id``
  column the contract does not know, STOP replies in English and French, and a few messy
  rows at the end (invalid numbers, a bad timestamp, a negative duration, an exact replay and
  a different row under an existing event id);
* ``consent.csv`` — the web-form consents, semicolon-separated (the French office's export);
* ``campaign.csv`` — next week's US call list, national formats, no region column.

Every number is fictional: US 555-0100…0199 lines, Ofcom's drama ranges (020 7946 0xxx,
0113/0121/0161 496 0xxx), ARCEP's fiction ranges (01 99 00, 04 65 71, 05 36 49); each is
checked with phonenumbers. The invalid ones are Ofcom's drama mobiles (07700 900xxx),
which libphonenumber does not accept, and plain garbage.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers as pn

HERE = Path(__file__).resolve().parent
START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
DAYS = 182

US_AREAS = {  # area code → zone
    "201": "America/New_York", "212": "America/New_York", "305": "America/New_York",
    "312": "America/Chicago", "415": "America/Los_Angeles", "617": "America/New_York",
    "713": "America/Chicago", "303": "America/Denver", "206": "America/Los_Angeles",
    "404": "America/New_York",
}  # fmt: skip
GB_RANGES = ("2079460", "1134960", "1214960", "1614960", "1174960")  # + 3 digits
FR_RANGES = ("19900", "46571", "53649")  # + 4 digits

STOP_REPLIES = {
    "US": ["STOP", "Stop", "stop texting me", "UNSUBSCRIBE", "Please remove me", "STOP!!"],
    "GB": ["STOP", "stop", "Stop please", "unsubscribe", "take me off your list"],
    "FR": ["STOP", "ARRET", "Arrêt svp", "STOP SVP", "désabonner", "Stop merci"],
}
OTHER_REPLIES = {
    "US": ["ok thanks", "who is this?", "HELP", "call me tomorrow", "Yes interested"],
    "GB": ["Cheers", "who is this", "HELP", "ring me after 5", "ok"],
    "FR": ["Merci", "c'est qui ?", "AIDE", "rappelez demain", "oui"],
}


def _us(rng: random.Random, used: set[str]) -> tuple[str, str, str]:
    while True:
        area = rng.choice(sorted(US_AREAS))
        line = f"01{rng.randrange(100):02d}"
        e164 = f"+1{area}555{line}"
        if e164 not in used:
            break
    shapes = [
        f"({area}) 555-{line}",
        f"{area}-555-{line}",
        f"{area}.555.{line}",
        f"{area} 555 {line}",
        f"1{area}555{line}",
    ]
    return e164, rng.choice(shapes), US_AREAS[area]


def _gb(rng: random.Random, used: set[str]) -> tuple[str, str, str]:
    while True:
        prefix = rng.choice(GB_RANGES)
        nsn = prefix + f"{rng.randrange(1000):03d}"
        e164 = "+44" + nsn
        if e164 not in used:
            break
    national = "0" + nsn
    if nsn.startswith("20"):
        shapes = [f"020 {nsn[2:6]} {nsn[6:]}", f"{national[:5]} {national[5:]}", national]
    else:
        shapes = [f"{national[:4]} {national[4:7]} {national[7:]}", national]
    return e164, rng.choice(shapes), "Europe/London"


def _fr(rng: random.Random, used: set[str]) -> tuple[str, str, str]:
    while True:
        nsn = rng.choice(FR_RANGES) + f"{rng.randrange(10000):04d}"
        e164 = "+33" + nsn
        if e164 not in used:
            break
    national = "0" + nsn
    pairs = [national[i : i + 2] for i in range(0, 10, 2)]
    shapes = [" ".join(pairs), ".".join(pairs), national]
    return e164, rng.choice(shapes), "Europe/Paris"


def _check(e164: str, shown: str, region: str) -> None:
    parsed = pn.parse(shown, region)
    assert pn.is_valid_number(parsed), shown
    assert pn.format_number(parsed, pn.PhoneNumberFormat.E164) == e164, (shown, e164)


def _stamp(at: dt.datetime, zone: str) -> str:
    """ISO-8601 with the local offset, as the CRM exports it."""
    return at.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")


def _case(rng: random.Random, value: str) -> str:
    """The dialler writes enum values in whatever case it likes now and then."""
    roll = rng.random()
    if roll < 0.04:
        return value.upper()
    if roll < 0.07:
        return value.capitalize()
    return value


def people(rng: random.Random) -> list[dict]:
    out, used = [], set()
    for region, count, make in (("US", 300, _us), ("GB", 220, _gb), ("FR", 200, _fr)):
        for _ in range(count):
            e164, shown, zone = make(rng, used)
            used.add(e164)
            _check(e164, shown, region)
            out.append(
                {
                    "region": region,
                    "e164": e164,
                    "shown": shown,
                    "zone": zone,
                    "sensitivity": rng.lognormvariate(0.0, 0.9),
                    "mobile_share": 0.6 if region == "US" else 0.4,
                }
            )
    return out


def events(rng: random.Random, folks: list[dict]) -> list[dict]:
    rows: list[dict] = []
    campaigns = [f"spring-{i}" for i in range(1, 4)] + ["summer-1", "summer-2", "renewals"]

    def add(person: dict, at: dt.datetime, kind: str, **extra) -> None:
        rows.append(
            {
                "event_id": "",
                "number": person["shown"],
                "region": person["region"],
                "ts": _stamp(at, person["zone"]),
                "kind": kind,
                "agent_id": extra.pop("agent_id", ""),
                **extra,
            }
        )

    for person in folks:
        opted_out = False
        recent: list[dt.datetime] = []
        day = rng.randrange(0, 40)
        while day < DAYS and not opted_out:
            local_hour = rng.choice([9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20])
            local = dt.datetime.combine(
                (START + dt.timedelta(days=day)).date(),
                dt.time(local_hour, rng.randrange(60), rng.randrange(60)),
                ZoneInfo(person["zone"]),
            )
            at = local.astimezone(dt.UTC)
            recent = [t for t in recent if at - t < dt.timedelta(days=14)]
            pressure = len(recent)
            sms = rng.random() < person["mobile_share"] * 0.6
            campaign = rng.choice(campaigns)
            if sms:
                add(person, at, _case(rng, "contact"), channel=_case(rng, "sms"),
                    purpose="marketing", campaign_id=campaign, outcome="delivered",
                    agent_id="")  # fmt: skip
                answered = True
            else:
                outcome = rng.choices(
                    ["answered", "no_answer", "voicemail", "busy"], [0.42, 0.33, 0.2, 0.05]
                )[0]
                answered = outcome == "answered"
                duration = round(rng.uniform(4, 420), 1) if answered else ""
                mode = rng.choices(["predictive", "manual"], [0.7, 0.3])[0]
                add(person, at, "contact", channel=_case(rng, "call"), purpose="marketing",
                    campaign_id=campaign, dial_mode=mode, outcome=_case(rng, outcome),
                    duration_s=duration, agent_id=f"A{rng.randrange(1, 25):02d}")  # fmt: skip
            recent.append(at)
            # risk: the person's tolerance, the pressure of the last two weeks, evenings
            lift = person["sensitivity"] * (1 + 0.45 * pressure) * (1.6 if local_hour >= 19 else 1)
            later = at + dt.timedelta(hours=rng.uniform(0.2, 70))
            if answered and rng.random() < min(0.5, 0.0065 * lift):
                source = rng.choices(["customer", "carrier", "regulator"], [0.8, 0.15, 0.05])[0]
                add(person, later, "complaint", source=source)
            if answered and rng.random() < min(0.6, 0.018 * lift):
                if sms:
                    text = rng.choice(STOP_REPLIES[person["region"]])
                    add(person, later, "reply", channel="sms", text=text)
                else:
                    add(person, later, "opt_out", channel="call")
                    person["said_stop_on_a_call"] = True
                opted_out = rng.random() < 0.9
            elif sms and rng.random() < 0.05:
                add(person, later, "reply", channel="sms",
                    text=rng.choice(OTHER_REPLIES[person["region"]]))  # fmt: skip
            if answered and not sms and rng.random() < 0.05:
                add(person, later, "refusal")
            day += max(1, int(rng.expovariate(1 / 9)))
    rows.sort(key=lambda r: dt.datetime.fromisoformat(r["ts"]))
    for i, row in enumerate(rows, start=1):
        row["event_id"] = f"CRM-{i:06d}"
    return rows


def messy(rng: random.Random, rows: list[dict]) -> list[dict]:
    """What a real export has at its end: rows an agent typed by hand."""
    base = rows[len(rows) // 2]
    n = len(rows)
    bad = [
        {**base, "event_id": f"CRM-{n + 1:06d}", "number": "07700 900461", "region": "GB"},
        {**base, "event_id": f"CRM-{n + 2:06d}", "number": "n/a", "region": ""},
        {**base, "event_id": f"CRM-{n + 3:06d}", "number": "555-0134", "region": "US"},
        {**base, "event_id": f"CRM-{n + 4:06d}", "ts": "03/04/2026 10:00"},
        {
            **base,
            "event_id": f"CRM-{n + 5:06d}",
            "kind": "contact",
            "channel": "call",
            "outcome": "answered",
            "duration_s": "-5",
        },  # fmt: skip
        dict(rows[10]),  # the same row exported twice: a replay
        {**rows[11], "kind": "complaint", "source": "customer"},  # another row, same id
    ]
    return rows + bad


def write_events(rows: list[dict], out: Path) -> None:
    columns = ["event_id", "number", "region", "ts", "kind", "channel", "purpose",
               "campaign_id", "dial_mode", "outcome", "duration_s", "text", "source",
               "agent_id"]  # fmt: skip
    with (out / "events.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


def write_consent(rng: random.Random, folks: list[dict], out: Path) -> None:
    with (out / "consent.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(["consent_id", "number", "region", "channel", "purpose", "type",
                         "granted_at"])  # fmt: skip
        for i, person in enumerate(p for p in folks if rng.random() < 0.35):
            granted = START - dt.timedelta(days=rng.randrange(10, 400))
            writer.writerow([f"WEB-{i:05d}", person["shown"], person["region"],
                             rng.choice(["any", "sms", "call"]), "marketing",
                             rng.choice(["express", "written"]),
                             _stamp(granted, person["zone"])])  # fmt: skip


def write_campaign(rng: random.Random, folks: list[dict], out: Path) -> None:
    """A list nobody cleaned: a few people who asked on a call not to be called again."""
    us = [p for p in folks if p["region"] == "US" and not p.get("said_stop_on_a_call")]
    stopped = [p for p in folks if p["region"] == "US" and p.get("said_stop_on_a_call")]
    with (out / "campaign.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["ref", "number", "channel", "purpose", "at"])
        at = START + dt.timedelta(days=DAYS + 3, hours=15)
        chosen = rng.sample(us, 110) + rng.sample(stopped, min(10, len(stopped)))
        for i, person in enumerate(chosen):
            channel = (
                "call" if person.get("said_stop_on_a_call") else rng.choice(["call", "call", "sms"])
            )
            writer.writerow([f"C{i:04d}", person["shown"], channel, "marketing",
                             at.isoformat().replace("+00:00", "Z")])  # fmt: skip


def main(out: Path = HERE) -> None:
    rng = random.Random(20261203)
    folks = people(rng)
    rows = events(rng, folks)
    write_events(messy(rng, rows), out)
    write_consent(rng, folks, out)
    write_campaign(rng, folks, out)
    contacts = sum(r["kind"].lower() == "contact" for r in rows)
    complaints = sum(r["kind"] == "complaint" for r in rows)
    stops = sum(r["kind"] in ("opt_out", "reply") and r.get("text", "") in
                sum(STOP_REPLIES.values(), []) or r["kind"] == "opt_out" for r in rows)  # fmt: skip
    print(f"{len(folks)} numbers, {len(rows)} events, {contacts} contacts, "
          f"{complaints} complaints, {stops} opt-outs")  # fmt: skip


if __name__ == "__main__":
    main()
