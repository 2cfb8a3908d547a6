//! Rocket.Chat simulator.
