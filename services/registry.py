"""All services by name (imports are cheap: definitions create no clients)."""

from shared.service import ServiceDefinition


def all_services() -> dict[str, ServiceDefinition]:
    from services.appreciation.service import definition as appreciation
    from services.checkins.service import definition as checkins
    from services.console.service import definition as console
    from services.registration.service import definition as registration
    from services.tasks.service import definition as tasks

    return {d.name: d for d in (registration, tasks, checkins, appreciation, console)}
