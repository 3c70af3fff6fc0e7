"""The ports an exchange adapter implements (defined in ``spreadhawk.engine.ports``, which the engine,
the lower layer, must be able to name). ``SimulatedVenue`` and ``ReplayFeed`` are the in-memory
implementations every test uses instead of patching."""

from spreadhawk.engine.ports import Feed, Venue, VenueEvent, VenueHub

__all__ = ["Feed", "Venue", "VenueEvent", "VenueHub"]
