"""Follow live sessions: record their events, judge them, raise and publish notices, pass frames on."""
