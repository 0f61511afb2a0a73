"""The admin API, on Synapse's paths where Synapse has an equivalent so that
existing admin tools work with Hearth."""
