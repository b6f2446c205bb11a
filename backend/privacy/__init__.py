"""Privacy requests: a person's data export (access) and their account's deletion (erasure).

Cross-cutting like insights: it reads every domain's rows that name the person, and changes
them through each domain's own rules where there are rules (seats, pledged totals, sessions).
The inventory of what is personal, and what export and deletion do with it, is docs/privacy.md.
"""
