export PYTHONPATH=/tmp/sqllayer/wt TRADEWH_HOME=/tmp/sqllayer/home TRADEWH_CATALOGUE=/tmp/sqllayer/catalogue_10M.toml TRADEWH_ALLOWED_ROOTS=/tmp/sqllayer/data
export DBT_SEND_ANONYMOUS_USAGE_STATS=false DO_NOT_TRACK=1 DBT_PROFILES_DIR=/tmp/sqllayer/dbtproj DBT_PROJECT_DIR=/tmp/sqllayer/dbtproj
