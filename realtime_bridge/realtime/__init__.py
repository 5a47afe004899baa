"""The bridge's model session: a transport (`client`), the SDK's wire types (`events`), the
bridge's own vocabulary (`model_events`) and the one translator between them (`translate`)."""
