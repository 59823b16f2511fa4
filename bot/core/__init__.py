"""The pipeline that knows no capability: inbox, dispatch, rules contract, command router,
intents, outbox, rendering, clock, working time and text parsing. The registry hands the
capabilities to it (Deps.rules, the @command modules); it imports none of them."""
