"""Tests of the contact-history simulator (:mod:`features.simulate`)."""
