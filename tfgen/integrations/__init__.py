"""Other tools' formats: what changed for a CI system, and Atlantis's repository configuration."""
