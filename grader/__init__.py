"""grader: grade free-recall answers against the key terms of your own study decks."""
