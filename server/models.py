# SPDX-License-Identifier: GPL-2.0-or-later
"""Imports every model, so that ``Base.metadata`` is complete for Alembic and the tests."""

from server.api.models import ApiToken
from server.attendance.entries import PunchEntry
from server.attendance.models import Punch, PunchSource, PunchStatus
from server.audit.models import AuditEvent, AuditHead
from server.auth.models import Account, RecoveryCode, Role, SecondFactor, account_departments
from server.db import Base
from server.devices.models import PinMapping, SyncRun, Terminal, Transport
from server.employees.models import Employee, EmployeeStatus, VerifyMode, employee_areas
from server.enrolment.models import BiometricTemplate, DataKey
from server.organization.models import Area, Department, OrganizationSettings
from server.privacy.models import BiometricNotice, Consent, ConsentMethod
from server.rights.models import SubjectRequest

__all__ = [
    "Account",
    "ApiToken",
    "Area",
    "AuditEvent",
    "AuditHead",
    "Base",
    "BiometricNotice",
    "BiometricTemplate",
    "Consent",
    "ConsentMethod",
    "DataKey",
    "Department",
    "Employee",
    "EmployeeStatus",
    "OrganizationSettings",
    "PinMapping",
    "Punch",
    "PunchEntry",
    "PunchSource",
    "PunchStatus",
    "RecoveryCode",
    "Role",
    "SecondFactor",
    "SubjectRequest",
    "SyncRun",
    "Terminal",
    "Transport",
    "VerifyMode",
    "account_departments",
    "employee_areas",
]
