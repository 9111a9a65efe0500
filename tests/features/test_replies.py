"""Reply keywords (docs/rules.md): a table of real-world replies in EN, ES, FR, DE and ZH."""

from __future__ import annotations

import pandas as pd
import pytest

from features.replies import REPLY_LABELS, classify_replies, classify_reply, normalize_reply

# (text, sender region, expected label). Written by hand from carrier keyword lists,
# regulators' examples (FCC 24-24, ACMA, MIIT) and replies people actually send.
REPLIES: list[tuple[str, str | None, str]] = [
    # --- English: per-se keywords, whole message or first word
    ("STOP", "US", "opt_out"),
    ("Stop.", "US", "opt_out"),
    ("stop!!!", "US", "opt_out"),
    ("  StOp  ", "US", "opt_out"),
    ("STOP please", "US", "opt_out"),
    ("Stop all", "US", "opt_out"),
    ("STOPALL", "US", "opt_out"),
    ("Unsubscribe", "US", "opt_out"),
    ("UNSUBSCRIBE me now", "US", "opt_out"),
    ("cancel", "US", "opt_out"),
    ("END", "US", "opt_out"),
    ("Quit", "US", "opt_out"),
    ("REVOKE", "US", "opt_out"),
    ("opt out", "US", "opt_out"),
    ("Opt-out", "US", "opt_out"),
    ("OPTOUT", "US", "opt_out"),
    ("remove", "US", "opt_out"),
    ("ＳＴＯＰ", "US", "opt_out"),  # full-width, NFKC
    ("🛑 stop", "US", "opt_out"),
    # --- English: plain-language revocations
    ("Please don't text me anymore", "US", "opt_out"),
    ("please dont txt me", "US", "opt_out"),
    ("Do not call me again", "US", "opt_out"),
    ("Can you stop texting me?", "US", "opt_out"),
    ("Stop calling this number", "US", "opt_out"),
    ("no more messages thanks", "US", "opt_out"),
    ("Take me off your list", "US", "opt_out"),
    ("Remove my number from your list", "US", "opt_out"),
    ("Cease and desist", "US", "opt_out"),
    ("Leave me alone", "US", "opt_out"),
    ("Wrong number", "US", "opt_out"),
    ("I'm not interested", "US", "opt_out"),
    ("I revoke my consent", "US", "opt_out"),
    ("This is spam, reporting you to the FTC", "US", "opt_out"),
    ("Lose my number", "US", "opt_out"),
    # --- English: help and opt-in, never opt-out
    ("HELP", "US", "help"),
    ("help?", "US", "help"),
    ("Info", "US", "help"),
    ("START", "US", "opt_in"),
    ("Yes", "US", "opt_in"),
    ("UNSTOP", "US", "opt_in"),
    ("yes!", "US", "opt_in"),
    # --- English: ordinary replies
    ("Thanks, see you Tuesday", "US", "other"),
    ("What time is my appointment?", "US", "other"),
    ("ok", "US", "other"),
    ("", "US", "other"),
    ("Sounds good", "US", "other"),
    ("NO", "US", "other"),  # "NO" is region-specific (CN, AU)
    ("N", "US", "other"),
    ("Can you call me back at 5?", "US", "other"),
    # --- Spanish
    ("ALTO", "US", "opt_out"),
    ("Baja", "US", "opt_out"),
    ("BAJA por favor", "US", "opt_out"),
    ("Parar", "US", "opt_out"),
    ("No me llamen más", "US", "opt_out"),
    ("Dejen de enviarme mensajes", "US", "opt_out"),
    ("Quiero darme de baja", "US", "opt_out"),
    ("no quiero recibir más mensajes", "US", "opt_out"),
    ("Número equivocado", "US", "opt_out"),
    ("AYUDA", "US", "help"),
    ("Gracias, nos vemos mañana", "US", "other"),
    # --- French (CASL: ARRET/AIDE; France)
    ("ARRÊT", "CA", "opt_out"),
    ("arret", "FR", "opt_out"),
    ("STOP SMS", "FR", "opt_out"),
    ("Arrêtez de m'appeler", "FR", "opt_out"),
    ("Ne plus m'envoyer de messages", "FR", "opt_out"),
    ("Je veux me désabonner", "FR", "opt_out"),
    ("Ne m'appelez plus", "FR", "opt_out"),
    ("Plus de SMS svp", "FR", "opt_out"),
    ("Pas intéressé", "FR", "opt_out"),
    ("AIDE", "CA", "help"),
    ("Merci beaucoup", "FR", "other"),
    ("D'accord, à demain", "FR", "other"),
    # --- German
    ("STOPP", "DE", "opt_out"),
    ("Abmelden", "DE", "opt_out"),
    ("Bitte abbestellen", "DE", "opt_out"),
    ("Keine SMS mehr bitte", "DE", "opt_out"),
    ("Bitte nicht mehr anrufen!", "DE", "opt_out"),
    ("Hören Sie auf mich zu belästigen", "DE", "opt_out"),
    ("Ich widerrufe meine Einwilligung", "DE", "opt_out"),
    ("Kein Interesse", "DE", "opt_out"),
    ("Hilfe", "DE", "help"),
    ("Danke, bis morgen", "DE", "other"),
    ("Ja gerne", "DE", "other"),
    # --- Chinese (MIIT practice; region-specific short words)
    ("退订", "CN", "opt_out"),
    ("TD", "CN", "opt_out"),
    ("td", "CN", "opt_out"),
    ("T", "CN", "opt_out"),
    ("R", "CN", "opt_out"),
    ("N", "CN", "opt_out"),
    ("0", "CN", "opt_out"),
    ("取消", "CN", "opt_out"),
    ("拒收", "CN", "opt_out"),
    ("退出", "CN", "opt_out"),
    ("退订。", "CN", "opt_out"),
    ("退订谢谢", "CN", "opt_out"),
    ("请不要再发短信了", "CN", "opt_out"),
    ("别再打电话了", "CN", "opt_out"),
    ("骚扰短信", "CN", "opt_out"),
    ("好的，谢谢", "CN", "other"),
    ("收到", "CN", "other"),
    ("帮助", "CN", "help"),
    # --- Australia: ACMA's example is "reply NO"
    ("NO", "AU", "opt_out"),
    ("No.", "AU", "opt_out"),
    ("STOP", "AU", "opt_out"),
    ("No worries, thanks", "AU", "opt_out"),  # first word NO: a false positive we accept
    # --- Unknown sender region: region-specific words applied (fail towards opt-out)
    ("NO", None, "opt_out"),
    ("T", "GB", "other"),
    # --- a stop word anywhere wins over help / opt-in words in the same message
    ("ok stop", "US", "opt_out"),
    ("I said STOP", "US", "opt_out"),
    ("Thanks. STOP", "US", "opt_out"),
    ("Yes, stop", "US", "opt_out"),
    ("HELP STOP", "US", "opt_out"),
    ("Please remove", "US", "opt_out"),
    ("CANCELAR", "US", "opt_out"),
    ("停止", "CN", "opt_out"),
    ("不要", "CN", "opt_out"),
    ("NO", "CN", "opt_out"),
    ("T", "AU", "opt_out"),
    ("R", "AU", "opt_out"),
    ("0", "AU", "opt_out"),
    ("Yes please", "US", "opt_in"),
    ("Help me with my bill", "US", "help"),
]


@pytest.mark.parametrize(("text", "region", "expected"), REPLIES)
def test_reply_table(text: str, region: str | None, expected: str) -> None:
    assert classify_reply(text, region) == expected


def test_table_is_large_and_multilingual() -> None:
    assert len(REPLIES) >= 60
    assert {label for _, _, label in REPLIES} == set(REPLY_LABELS)


def test_subdivision_region_uses_its_country() -> None:
    assert classify_reply("N", "CN-BJ") == "opt_out"
    assert classify_reply("N", "US-FL") == "other"


def test_help_is_never_an_opt_out() -> None:
    for word in ("HELP", "INFO", "AYUDA", "AIDE"):
        for region in ("US", "CN", "AU", None):
            assert classify_reply(word, region) == "help"


def test_normalisation_strips_accents_punctuation_and_width() -> None:
    assert normalize_reply("  ＡＲＲÊＴ !!! ") == "arret"
    assert normalize_reply("Désabonner—MOI…") == "desabonner moi"
    assert normalize_reply("STRASSE Straße") == "strasse strasse"


def test_non_string_is_other() -> None:
    assert classify_reply(None) == "other"  # type: ignore[arg-type]


def test_vectorised_matches_scalar_and_keeps_index() -> None:
    texts = pd.Series(
        [text for text, _, _ in REPLIES] * 2 + [None], index=range(100, 100 + 2 * len(REPLIES) + 1)
    )
    regions = pd.Series([region for _, region, _ in REPLIES] * 2 + ["US"], index=texts.index)
    labels = classify_replies(texts, regions)
    assert labels.index.equals(texts.index)
    expected = [label for _, _, label in REPLIES] * 2 + ["other"]
    assert labels.tolist() == expected
    assert set(labels.unique()) <= set(REPLY_LABELS)


def test_vectorised_without_regions_treats_region_as_unknown() -> None:
    texts = pd.Series(["NO", "STOP", "help", "hello", None])
    labels = classify_replies(texts)
    assert labels.tolist() == ["opt_out", "opt_out", "help", "other", "other"]


#: Replies the legal comparison found missed, each in the sender's region where it is used,
#: and where it must stay ``other`` (a word of another language, or a regional short word).
REGIONAL_TABLE = [
    # US senders: the FCC's "No Mas" example and English "no more"
    ("no más", "US", "opt_out"), ("NO MAS", "US", "opt_out"), ("No mas!", "US-FL", "opt_out"),
    ("no quiero más mensajes", "US", "opt_out"), ("No more", "US", "opt_out"),
    ("No more.", "PR", "opt_out"), ("ya no", "US", "opt_out"), ("PARE", "US", "opt_out"),
    ("BASTA", "US", "opt_out"), ("No more", "GB", "other"), ("no", "US", "other"),
    # French
    ("ANNULER", "FR", "opt_out"), ("FIN", "FR", "opt_out"), ("Arrête", "FR", "opt_out"),
    ("ne me contactez plus", "FR", "opt_out"), ("Ne plus me contacter svp", "FR", "opt_out"),
    ("laissez-moi tranquille", "FR", "opt_out"), ("ANNULER", "CA", "opt_out"),
    ("Fin", "US", "other"),
    # German
    ("ENDE", "DE", "opt_out"), ("Hör auf", "DE", "opt_out"), ("Kündigen", "DE", "opt_out"),
    ("ende", "US", "other"),
    # Spanish
    ("PARE", "ES", "opt_out"), ("DETENER", "ES", "opt_out"), ("BASTA", "ES", "opt_out"),
    ("SALIR", "MX", "opt_out"),
    # Portuguese (Brazil)
    ("SAIR", "BR", "opt_out"), ("PARE", "BR", "opt_out"), ("DESCADASTRAR", "BR", "opt_out"),
    ("não quero", "BR", "opt_out"), ("pare de mandar", "BR", "opt_out"),
    ("sair", "GB", "other"),
    # Italian, Dutch, Japanese
    ("ANNULLA", "IT", "opt_out"), ("CANCELLA", "IT", "opt_out"), ("DISISCRIVI", "IT", "opt_out"),
    ("BASTA", "IT", "opt_out"), ("AFMELDEN", "NL", "opt_out"), ("UITSCHRIJVEN", "NL", "opt_out"),
    ("配信停止", "JP", "opt_out"), ("配信停止してください", "JP", "opt_out"), ("解除", "JP", "opt_out"),
    # an unknown region applies every region's words
    ("no más", None, "opt_out"), ("AFMELDEN", None, "opt_out"), ("SAIR", None, "opt_out"),
    # help and opt-in words are unchanged
    ("AIDE", "FR", "help"), ("AYUDA", "US", "help"), ("START", "BR", "opt_in"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "region", "expected"), REGIONAL_TABLE)
def test_regional_reply_table(text: str, region: str | None, expected: str) -> None:
    assert classify_reply(text, region) == expected
