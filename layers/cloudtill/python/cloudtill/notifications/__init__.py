"""Notifications: domain events -> transactional and marketing emails (SES) and SMS (SNS).

`service.NotificationService` decides who gets which message and sends each one exactly once per
(event, recipient); `rendering.Renderer` turns a message into subject, text and HTML from the Jinja2
templates in `functions/notifications/templates/`. See docs/notifications.md.
"""
