from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A WeTrials user: participant, researcher or staff member."""

    email_verified = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
