//! Mattermost simulator.
