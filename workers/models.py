# Consent, work sessions, breaks and exposure arrive with the working-time issue.
