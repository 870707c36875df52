-- grain: one row per figure revised by a later vintage (source x vintage x reporter x partner x period x flow x category x measure)
-- What changed between releases of one definition, largest revisions first, with the load run that brought the
-- new vintage. Not a revision: a change within 1e-6 of the value (floating-point noise), nor a change of definition
-- (BPM5 -> BPM6, a redefined series): marts.definition_breaks lists those.
create or replace view marts.revisions as
with

history as (
    select * from marts.trade_figure_history
    where change_kind = 'revised' and not is_derived
),

runs as (
    -- the first run that loaded each vintage of each source
    select
        source_id,
        trim(vintage) as vintage,
        min(run_id) as loaded_by_run_id,
    from audit.source_runs, unnest(string_split(vintages, ',')) as split(vintage)
    where status = 'loaded'
    group by all
),

final as (
    select
        -- ids
        history.source_id,
        history.dataset,
        history.vintage,
        runs.loaded_by_run_id,
        history.reporter,
        history.partner,
        history.period,
        history.period_start,
        history.period_end,
        history.flow,
        history.classification,
        history.category,
        history.measure,
        history.definition,
        -- numerics
        history.unit,
        history.previous_vintage_value,
        history.value,
        history.revision,
        100 * history.revision / nullif(abs(history.previous_vintage_value), 0) as revision_pct,
    from history
    left join runs on runs.source_id = history.source_id and runs.vintage = history.vintage
    order by abs(history.revision) desc
)

select * from final;

comment on view marts.revisions is 'Printed figures a later release revised under the same definition, largest revisions first: the previous and the new value, the change and the load run that brought the new vintage. Changes within 1e-6 of the value (floating-point noise) and changes of definition (marts.definition_breaks) are not revisions.';
comment on column marts.revisions.source_id is 'Catalogue entry that published the revision';
comment on column marts.revisions.dataset is 'Publisher layout family';
comment on column marts.revisions.vintage is 'Release date of the revised value';
comment on column marts.revisions.loaded_by_run_id is 'The load run (audit.load_runs) that first loaded that vintage';
comment on column marts.revisions.reporter is 'Reporting economy or group';
comment on column marts.revisions.partner is 'Partner economy or aggregate';
comment on column marts.revisions.period is 'Reference period';
comment on column marts.revisions.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.revisions.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.revisions.flow is 'export, import, total or balance';
comment on column marts.revisions.classification is 'Classification of category';
comment on column marts.revisions.category is 'What is traded';
comment on column marts.revisions.measure is 'The concept measured';
comment on column marts.revisions.definition is 'Definition both vintages were compiled under (core.fct_trade_figure.definition)';
comment on column marts.revisions.unit is 'Unit of the values and of revision';
comment on column marts.revisions.previous_vintage_value is 'Value in the previous vintage';
comment on column marts.revisions.value is 'Value in this vintage';
comment on column marts.revisions.revision is 'value - previous_vintage_value; in USD rounded to the cent';
comment on column marts.revisions.revision_pct is 'revision as a percentage of the previous value';
