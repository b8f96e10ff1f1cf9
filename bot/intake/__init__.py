"""The one door every channel comes in by: conversations, identities, consent, de-duplication.

`bot.intake.door.Intake` is what an adapter holds; `records` is its SQL
(one step of a unit of work each); `delivery` is the error every channel's
`send` raises when the platform refuses a message. Nothing is imported here,
so `bot.sms_store` may use `records` without a cycle.
"""
