"""Reading update-all's history (schema v1, exactly as written), checking its quality, and
writing synthetic histories whose truth is known."""
