"""Chat shorthand and common misspellings, mapped to the word they stand for.

Pure Python (no Rasa import), so the gateway's test environment can test it
too. `rasa_ext.shorthand_normalizer` applies it to token lemmas inside Rasa.

Customers who text ("where r u", "pls cancel", "cant login") and customers
writing in a second language ("recieve", "adress") use word forms that are rare
in any training data. Mapping them to the standard word lets every example
written with the standard word count for them too. Only unambiguous forms are
listed: "n" (no? and?) and "y" (yes? why?) stay as they are.
"""

from __future__ import annotations

import re

SHORTHAND: dict[str, str] = {
    # pronouns, verbs, function words
    "u": "you",
    "yu": "you",
    "ur": "your",
    "urs": "yours",
    "r": "be",
    "im": "i",
    "ive": "i",
    "cant": "can",
    "dont": "do",
    "doesnt": "do",
    "didnt": "do",
    "isnt": "be",
    "wasnt": "be",
    "arent": "be",
    "wont": "will",
    "wouldnt": "would",
    "couldnt": "could",
    "shouldnt": "should",
    "havent": "have",
    "hasnt": "have",
    "hv": "have",
    "wanna": "want",
    "wana": "want",
    "gonna": "go",
    "gotta": "have",
    "lemme": "let",
    "gimme": "give",
    "wat": "what",
    "wht": "what",
    "wut": "what",
    "whats": "what",
    "wheres": "where",
    "whens": "when",
    "hows": "how",
    "whos": "who",
    "thats": "that",
    "theres": "there",
    "theyre": "they",
    "abt": "about",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "cos": "because",
    "thru": "through",
    "tho": "though",
    "w/": "with",
    "b4": "before",
    "2day": "today",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "2moro": "tomorrow",
    "rn": "now",
    "l8r": "later",
    "gr8": "great",
    "ppl": "people",
    "smb": "somebody",
    "smth": "something",
    "sth": "something",
    "smthng": "something",
    "sumthing": "something",
    "pls": "please",
    "plz": "please",
    "plez": "please",
    "pleas": "please",
    "plse": "please",
    "thx": "thank",
    "thnx": "thank",
    "thnks": "thank",
    "thanx": "thank",
    "tnx": "thank",
    "ty": "thank",
    "tysm": "thank",
    "tyvm": "thank",
    "thankyou": "thank",
    "msg": "message",
    "msgs": "message",
    "info": "information",
    "acc": "account",
    "acct": "account",
    "pw": "password",
    "pwd": "password",
    "pword": "password",
    "addy": "address",
    "convo": "conversation",
    # yes / no / greeting forms that only differ in spelling
    "yeah": "yes",
    "yea": "yes",
    "yep": "yes",
    "yup": "yes",
    "yh": "yes",
    "okay": "ok",
    "okey": "ok",
    "k": "ok",
    "kk": "ok",
    "nope": "no",
    "nah": "no",
    "naw": "no",
    "hiya": "hi",
    "heya": "hey",
    "hii": "hi",
    "helo": "hello",
    "hallo": "hello",
    "hullo": "hello",
    "ello": "hello",
    "cya": "bye",
    "byee": "bye",
    # misspellings of the shop's own vocabulary
    "adress": "address",
    "addres": "address",
    "adres": "address",
    "recieve": "receive",
    "recieved": "receive",
    "recived": "receive",
    "reciept": "receipt",
    "recipt": "receipt",
    "invoce": "invoice",
    "invioce": "invoice",
    "ordr": "order",
    "oder": "order",
    "odrer": "order",
    "pakage": "package",
    "pacakge": "package",
    "packge": "package",
    "parcle": "parcel",
    "refnd": "refund",
    "refnud": "refund",
    "cancle": "cancel",
    "cansel": "cancel",
    "cancell": "cancel",
    "cancl": "cancel",
    "retrun": "return",
    "retun": "return",
    "pasword": "password",
    "passwrd": "password",
    "accout": "account",
    "acount": "account",
    "delet": "delete",
    "dilivery": "delivery",
    "delivary": "delivery",
    "shiping": "shipping",
    "paymant": "payment",
    "payement": "payment",
    "recomend": "recommend",
    "reccomend": "recommend",
    "recommand": "recommend",
    "newsleter": "newsletter",
    "unsubscrib": "unsubscribe",
    "wich": "which",
    "wher": "where",
    "were's": "where",
    "trak": "track",
    "chnage": "change",
    "chang": "change",
    "ammend": "amend",
}

_REPEATS = re.compile(r"([a-z])\1{2,}")
_STANDARD = frozenset(SHORTHAND.values())


def normalise(word: str) -> str | None:
    """The standard form of `word`, or None if it has none.

    Stretched words ("pleaseee", "heyyy", "yesss") are tried with the repeated
    letter written once and twice.
    """
    lower = word.lower()
    if lower in SHORTHAND:
        return SHORTHAND[lower]
    if not _REPEATS.search(lower):
        return None
    once, twice = _REPEATS.sub(r"\1", lower), _REPEATS.sub(r"\1\1", lower)
    for collapsed in (once, twice):
        if collapsed in SHORTHAND:
            return SHORTHAND[collapsed]
        if collapsed in _STANDARD:
            return collapsed
    # No English word has a letter three times in a row; two is the better guess
    # ("goood", "sooo", "alll").
    return twice
