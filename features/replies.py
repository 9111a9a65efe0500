"""Inbound SMS replies → ``opt_out`` / ``help`` / ``opt_in`` / ``other`` (docs/rules.md, "Reply keywords").

Why this module is deliberately eager to say ``opt_out``: a missed opt-out is a legal
breach (TCPA revocation "by any reasonable means", 47 CFR 64.1200(a)(10) as amended by
FCC 24-24; CASL; MIIT rules on refusal), while a false opt-out only loses one marketing
target. So besides the per-se keywords we match plain-language revocations in the
languages of the markets we hold packs for, and any per-se keyword as a word anywhere in the message ("I said
STOP"), ahead of any help or opt-in word in it.

Normalisation (docs/rules.md, "Reply keywords"): Unicode NFKC (full-width ``ＳＴＯＰ`` → ``STOP``), casefold,
accents stripped (``ARRÊT`` → ``arret``), punctuation and symbols (emoji included) turned
into spaces, whitespace collapsed.

Region-specific words are opt-outs only where the sender's region uses them: the short
``T``, ``R``, ``N``, ``0``, ``NO`` in China (MIIT practice) and Australia (sender practice);
"no más" / "no more" and the Spanish carrier words for US senders; each language's own words
(``ANNULER``, ``ENDE``, ``PARE``, ``SAIR``, ``ANNULLA``, ``AFMELDEN``, ``配信停止``…) where it is
spoken. When the region is unknown they are all applied — we prefer a false opt-out to a
missed one. ``HELP``/``INFO``/``AYUDA``/``AIDE`` are
help requests, never opt-outs; ``START``/``YES``/``UNSTOP`` re-enable delivery but are **not**
marketing consent (the caller must not create a Consent record from them).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Literal

import numpy as np
import pandas as pd

ReplyLabel = Literal["opt_out", "help", "opt_in", "other"]
REPLY_LABELS: tuple[str, ...] = ("opt_out", "help", "opt_in", "other")

#: Per-se opt-out words (whole message or first word), after normalisation. English
#: per-se words from the FCC revocation rule (stop, quit, end, revoke, opt out, cancel,
#: unsubscribe), CTIA's STOPALL, Spanish/French/German/Chinese carrier keywords.
OPT_OUT_WORDS: frozenset[str] = frozenset(
    {
        "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout",
        "remove", "arret", "arreter", "arretez", "alto", "parar", "baja", "stopp",
        "abmelden", "abbestellen", "desabonner", "desinscrire", "td", "退订", "取消", "拒收",
        "退出", "unsub", "cancelar", "cancela", "停止",
    }
)  # fmt: skip
#: Per-se words that are an opt-out ANYWHERE in the message as a word of their own: "ok
#: stop", "I said STOP", "Yes, stop", "HELP STOP", "Please remove". An opt-out wins over
#: help and opt-in words in the same message (a false opt-out costs one target; a missed
#: one is a breach).
ANYWHERE_OPT_OUT_WORDS: frozenset[str] = OPT_OUT_WORDS - {"td"}
#: Words and short phrases that are opt-outs only where the sender's region uses them (ISO
#: 3166-1), as the whole message or its first word (a phrase: its first words). CN/AU: the
#: short replies T, R, N, 0, NO. US: Spanish and English "no more" (the FCC counts any reply
#: a reasonable person reads as a revocation; its example is "No Mas") and the Spanish
#: carrier words. Each language's own words where it is spoken: French (FR, BE, CA, CH),
#: German, Spanish, Portuguese (BR, PT), Italian, Dutch, Japanese.
_FR_WORDS = frozenset({"annuler", "annule", "fin", "arrete", "desabonnement", "desinscription"})
_DE_WORDS = frozenset({"ende", "kundigen", "austragen", "abmeldung"})
_ES_WORDS = frozenset({"pare", "detener", "basta", "salir", "no mas", "ya no"})
_PT_WORDS = frozenset({"sair", "pare", "descadastrar", "cancelar", "nao quero", "chega"})
_IT_WORDS = frozenset({"annulla", "cancella", "disiscrivi", "basta", "ferma", "disdici"})
_NL_WORDS = frozenset({"afmelden", "uitschrijven", "afmelding"})
_SHORT_WORDS = frozenset({"t", "r", "n", "0", "no"})
REGIONAL_OPT_OUT_WORDS: dict[str, frozenset[str]] = {
    "CN": _SHORT_WORDS,
    "AU": _SHORT_WORDS,
    "US": _ES_WORDS | {"no more"},
    "PR": _ES_WORDS | {"no more"},
    "CA": _FR_WORDS | {"no more"},
    "FR": _FR_WORDS,
    "BE": _FR_WORDS | _NL_WORDS,
    "CH": _FR_WORDS | _DE_WORDS | _IT_WORDS,
    "DE": _DE_WORDS,
    "AT": _DE_WORDS,
    "ES": _ES_WORDS,
    "MX": _ES_WORDS,
    "BR": _PT_WORDS,
    "PT": _PT_WORDS,
    "IT": _IT_WORDS,
    "NL": _NL_WORDS,
    "JP": frozenset({"解除", "配信停止"}),
}
#: Region-specific words applied when the region is unknown (fail towards opting out).
UNKNOWN_REGION_OPT_OUT_WORDS: frozenset[str] = frozenset().union(*REGIONAL_OPT_OUT_WORDS.values())
HELP_WORDS: frozenset[str] = frozenset({"help", "info", "ayuda", "aide", "hilfe", "帮助"})
OPT_IN_WORDS: frozenset[str] = frozenset({"start", "yes", "unstop"})
#: Chinese keywords are not space-delimited: also match them at the start of the message.
_CJK_OPT_OUT_PREFIXES: tuple[str, ...] = (
    "退订", "取消", "拒收", "退出", "停止", "不要", "配信停止", "解除", "回t",
)  # fmt: skip

#: Plain-language revocations, searched anywhere in the normalised message. Broad on
#: purpose (FCC 24-24: "any reasonable means"); each is a phrase people actually send.
_REVOCATION_PATTERNS: tuple[str, ...] = (
    # English
    r"\b(stop|quit|cease) (texting|txting|messaging|calling|sending|contacting|bothering"
    r"|spamming|harassing|emailing|ringing)\b",
    r"\b(don ?t|do not|dont|never|pls dont|please dont) (ever )?(text|txt|message|msg|call|ring"
    r"|contact|email|send|sms|bother)\b",
    r"\bno (more|further) (texts?|txts?|messages?|msgs?|calls?|sms|marketing|contact)\b",
    r"\b(remove|delete|take) (me|my (number|phone|details|info))\b",
    r"\b(take|get) me off\b",
    r"\bopt (me )?out\b",
    r"\bunsubscribe\b",
    r"\bcease and desist\b",
    r"\bleave me alone\b",
    r"\blose (my|this) number\b",
    r"\bwrong (number|person)\b",
    r"\bnot interested\b",
    r"\bdo not call\b|\bdnc\b",
    r"\b(i )?(revoke|withdraw) (my )?consent\b",
    r"\bstop (it|this|now|all|please|pls)\b",
    r"\bplease stop\b|\bpls stop\b",
    r"\bspam\b|\bharass",
    r"\breport(ing)? (you|this) to\b",
    # Spanish
    r"\bno (me )?(llamen|llames|llamar|escriban|escribas|envien|envies|manden|mandes|contacten"
    r"|molesten|moleste)\b",
    r"\bdej(en|a|e) de (llamar|escribir|enviar|mandar|molestar)",
    r"\b(dar(me)?|darse) de baja\b|\bde baja\b",
    r"\bno (mas|quiero) (mas )?(mensajes|llamadas|sms|recibir)\b",
    r"\bno quiero (que me )?(llamen|escriban|manden|contacten)\b",
    r"\bno me interesa\b|\bnumero equivocado\b",
    # French
    r"\bne (plus|pas) (m )?(appeler|envoyer|contacter|ecrire|recevoir)\b",
    r"\bne m (appelez|envoyez|ecrivez|contactez) plus\b",
    r"\bne (me )?(contactez|appelez|ecrivez|envoyez) plus\b",
    r"\bne plus me (contacter|appeler|ecrire|envoyer)\b",
    r"\blaissez moi tranquille\b",
    r"\b(arretez|arrete|cessez) (de|d)\b",
    r"\b(me )?desabonn|\bdesinscri",
    r"\bplus de (sms|messages|appels)\b",
    r"\bpas interesse|\bfaux numero\b|\bmauvais numero\b",
    # German
    r"\bkeine (sms|nachrichten|anrufe|werbung|mails|e mails|kontakt)( mehr)?\b",
    r"\bnicht mehr (anrufen|schreiben|kontaktieren|senden|zusenden|belastigen)\b",
    r"\b(horen|horen sie|hor) auf\b|\bhort auf\b",
    r"\babmelden\b|\babbestellen\b|\baustragen\b|\bwiderruf",
    r"\bkein interesse\b|\bfalsche nummer\b",
    # Portuguese
    r"\bpar(e|em) de (mandar|enviar|ligar|me ligar|me mandar)\b",
    r"\bnao quero (mais )?(receber|mensagens|ligacoes|sms)\b",
    r"\bdescadastr",
    # Italian, Dutch
    r"\bnon (chiamatemi|contattatemi|scrivetemi) piu\b|\bcancellami\b|\bdisiscriv",
    r"\b(bel|sms) me (niet|nooit) meer\b|\bafmelden\b|\buitschrijven\b",
    # Japanese and Chinese (no word boundaries)
    r"配信停止|配信解除|送らないで",
    r"退订|拒收|退出|取消订阅|不要再?[发打给联]|别再?[发打给联]|请勿|勿扰|停止[发推]|不再接收|骚扰|拉黑|投诉",
)
_REVOCATION_RE = re.compile("|".join(f"(?:{p})" for p in _REVOCATION_PATTERNS))
_SPACES_RE = re.compile(r"\s+")


@functools.lru_cache(maxsize=65_536)
def normalize_reply(text: str) -> str:
    """NFKC, casefold, strip accents, punctuation/symbols → space, collapse whitespace.

    >>> normalize_reply("  ＡＲＲÊＴ !!! ")
    'arret'
    >>> normalize_reply("Don't-text me.")
    'don t text me'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    chars: list[str] = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category == "Mn":  # combining accent
            continue
        if category[0] in "PSZC":  # punctuation, symbols (emoji), separators, controls
            chars.append(" ")
        else:
            chars.append(char)
    return _SPACES_RE.sub(" ", unicodedata.normalize("NFC", "".join(chars))).strip()


def _region_key(region: str | None) -> str | None:
    """``"US-FL"`` → ``"US"``; ``None``/empty stays ``None`` (unknown)."""
    if not region:
        return None
    return region.strip().upper().split("-", 1)[0] or None


def _regional_words(region_key: str | None) -> frozenset[str]:
    if region_key is None:
        return UNKNOWN_REGION_OPT_OUT_WORDS
    return REGIONAL_OPT_OUT_WORDS.get(region_key, frozenset())


@functools.lru_cache(maxsize=262_144)
def _classify_normalised(normalised: str, region_key: str | None) -> ReplyLabel:
    if not normalised:
        return "other"
    words = normalised.split(" ")
    first = words[0]
    first_two = "".join(words[:2])  # "opt out" → "optout", "stop all" → "stopall"
    whole = normalised.replace(" ", "")
    regional = _regional_words(region_key)
    opt_out_words = OPT_OUT_WORDS | regional
    if (
        first in opt_out_words
        or whole in opt_out_words
        or normalised in regional
        or " ".join(words[:2]) in regional
        or first_two in OPT_OUT_WORDS
        or not ANYWHERE_OPT_OUT_WORDS.isdisjoint(words)
        or normalised.startswith(_CJK_OPT_OUT_PREFIXES)
        or _REVOCATION_RE.search(normalised)
    ):
        return "opt_out"
    if first in HELP_WORDS or whole in HELP_WORDS:
        return "help"
    if first in OPT_IN_WORDS or whole in OPT_IN_WORDS:
        return "opt_in"
    return "other"


def classify_reply(text: str, region: str | None = None) -> ReplyLabel:
    """Classify one inbound reply; ``region`` is the sender's region (``"CN"``, ``"US-FL"``).

    >>> classify_reply("Stop.")
    'opt_out'
    >>> classify_reply("N", "CN"), classify_reply("N", "US")
    ('opt_out', 'other')
    >>> classify_reply("AYUDA")
    'help'
    """
    if not isinstance(text, str):
        return "other"
    return _classify_normalised(normalize_reply(text), _region_key(region))


def classify_replies(texts: pd.Series, regions: pd.Series | None = None) -> pd.Series:
    """Vectorised :func:`classify_reply`: one label per row, same index; missing text → other.

    Each distinct (text, region) pair is classified once, so 10 M replies that repeat a few
    thousand texts cost a few thousand classifications plus two factorisations.
    """
    text_codes, text_uniques = pd.factorize(texts, use_na_sentinel=True)
    if regions is None:
        region_codes = np.zeros(len(texts), dtype=np.int64)
        region_uniques: list[str | None] = [None]
    else:
        if not regions.index.equals(texts.index):
            regions = regions.reindex(texts.index)  # align by label, like pandas arithmetic
        raw_codes, raw_values = pd.factorize(regions, use_na_sentinel=True)
        keys = [_region_key(value) if isinstance(value, str) else None for value in raw_values]
        region_uniques = [None, *dict.fromkeys(key for key in keys if key is not None)]
        key_index = {key: position for position, key in enumerate(region_uniques)}
        lookup = np.array([key_index[key] for key in keys] + [0], dtype=np.int64)
        region_codes = lookup[raw_codes]  # code -1 (missing region) → last slot → unknown
    n_regions = len(region_uniques)
    combined = text_codes.astype(np.int64) * n_regions + region_codes
    combined[text_codes < 0] = -1
    pairs, inverse = np.unique(combined, return_inverse=True)
    labels = np.empty(len(pairs), dtype=object)
    for position, pair in enumerate(pairs):
        if pair < 0:
            labels[position] = "other"
            continue
        text = text_uniques[pair // n_regions]
        labels[position] = classify_reply(text, region_uniques[pair % n_regions])
    return pd.Series(labels[inverse.reshape(-1)], index=texts.index, dtype="str", name=texts.name)
