"""Every message on the wire, as frozen msgspec Structs. JSON encoded; unknown fields are ignored so that
newer senders stay compatible with older receivers."""
