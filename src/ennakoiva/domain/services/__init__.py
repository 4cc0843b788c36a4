"""Proactive services as data: definitions, triggers, the offer state machine and reply handling.

The messaging store builds on this API:

- :func:`load_service` / :func:`load_services` — checked definitions from ``catalogue/services``;
- :meth:`ServiceDefinition.render` — a message in fi/sv/en with its encoding and SMS parts;
- :mod:`.offer_state` — ``OfferState``, ``Transition``, ``apply``;
- :func:`.reply_handling.decide_reply` — what a reply means and what to send back.
"""

from ennakoiva.domain.services.catalogue import SERVICES_DIR, load_service, load_services
from ennakoiva.domain.services.definition import Action, MessageKind, ReplyOption, ServiceDefinition
from ennakoiva.domain.services.offer_state import IllegalTransitionError, OfferState, Transition, apply
from ennakoiva.domain.services.triggers import Condition, Trigger

__all__ = [
    "SERVICES_DIR", "Action", "Condition", "IllegalTransitionError", "MessageKind", "OfferState", "ReplyOption",
    "ServiceDefinition", "Transition", "Trigger", "apply", "load_service", "load_services",
]
