"""Vocabulary of the offline grader: stopwords, question framing words, acronyms and synonyms of care terms."""

from __future__ import annotations

# --------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _word_set(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can cannot could did do does doing don done down
    during each either etc few for from further get gets getting go going got had has have
    having he her here hers herself him himself his how i if in into is it its itself just
    let lets like may me might more most much must my myself need needs no nor not now of off
    on once one only or other others our ours ourselves out over own per really same shall she
    should so some someone something such than that the their theirs them themselves then
    there these they thing things this those through thus to too under until up upon us very
    was way ways we were what when where whether which while who whom whose why will with
    well within without would yes yet you your yours yourself yourselves e g eg ie
    give gives given make makes made get gets got use uses used using put puts mean means
    meaning
    person persons people individual individuals somebody anyone anybody everyone everybody
    """
)

# Words that only frame a question ("give three examples of ...") and carry no content.
QUESTION_WORDS = _word_set(
    """
    answer best briefly define describe difference different do does example examples explain
    give good help helps list make makes mean meant name outline say state tell three four five
    six two main important importance reason reasons type types way ways would
    """
)

NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}

NEGATIONS = _word_set("not no never cannot can't don't dont doesn't shouldn't mustn't isn't aren't won't without")
NEGATED = "!"

# Common acronyms in UK social care, expanded to the words the reference uses.
ACRONYMS: dict[str, str] = {
    "aed": "automated external defibrillator",
    "bsl": "british sign language",
    "coshh": "control substances hazardous health",
    "cpr": "cardiopulmonary resuscitation",
    "cqc": "care quality commission",
    "dnacpr": "not attempt cardiopulmonary resuscitation",
    "dpa": "data protection act",
    "fgm": "female genital mutilation",
    "gdpr": "general data protection regulation",
    "hse": "health safety executive",
    "ico": "information commissioner office",
    "loler": "lifting operations lifting equipment regulations",
    "mca": "mental capacity act",
    "ppe": "personal protective equipment",
    "riddor": "reporting injuries diseases dangerous occurrences",
    "salt": "speech language therapist",
    "uti": "urinary tract infection",
}

# Everyday words a care worker writes, mapped to the word the reference material uses.
SYNONYMS: dict[str, str] = {
    "boss": "manager",
    "supervisor": "manager",
    "senior": "manager",
    "seniors": "manager",
    "nurse": "manager",
    "resident": "individual",
    "residents": "individual",
    "client": "individual",
    "clients": "individual",
    "patient": "individual",
    "patients": "individual",
    "tell": "report",
    "tells": "report",
    "telling": "report",
    "told": "report",
    "inform": "report",
    "notify": "report",
    "write": "record",
    "writing": "record",
    "written": "record",
    "wrote": "record",
    "document": "record",
    "log": "record",
    "ring": "call",
    "phone": "call",
    "hurt": "harm",
    "injure": "harm",
    "unsure": "sure",
    "effect": "lead",
    "effects": "lead",
    "impact": "lead",
    "impacts": "lead",
    "consequence": "lead",
    "consequences": "lead",
    "chose": "choice",
    "choose": "choice",
    "chosen": "choice",
    "choices": "choice",
    "kid": "child",
    "kids": "child",
    "children": "child",
    "malnourished": "malnutrition",
    "malnourishment": "malnutrition",
    "undernourished": "malnutrition",
    "wee": "urine",
    "pee": "urine",
    "drink": "fluid",
    "drinks": "fluid",
    "meal": "food",
    "meals": "food",
    "sick": "vomiting",
    "vomit": "vomiting",
    "defib": "defibrillator",
    "tippex": "correction fluid",
    "tipp": "correction",
    "quietly": "quiet",
    "coworker": "colleague",
    "coworkers": "colleague",
    "workmate": "colleague",
    "workmates": "colleague",
    "rules": "policy",
    "rule": "policy",
    "secret": "confidential",
    "private": "privacy",
    "ambulance": "999",
    "shout": "loudly",
    "hoovering": "cleaning",
    "stuff": "belongings",
}
