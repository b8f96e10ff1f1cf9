"""The staff console at /staff, one router per resource (bot/app.py includes each).

Server-rendered pages that work without JavaScript (forms post and redirect
back); /static/staff.js adds live updates over /staff/ws and posts forms in
the background. Every request is checked by the dependencies of bot/deps.py:
a signed session cookie for an active account (else the sign-in page, or 401
for a POST), a CSRF token on every POST (else 403), and the role for admin
pages (else 403). bot/staff/pages.py answers what they refuse.

    auth           sign-in, sign-out
    queue          the live queue page and its fragment
    conversations  one conversation: page, transcript, assign, reply, resolve
    admin          staff accounts and the audit log (admins only)
    live           the console's WebSocket
"""
